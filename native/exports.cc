// native/exports.cc
//
// The JS-facing functions. Each operation is a class written once: its constructor reads the
// arguments on the JS thread (borrowing the segment and, for asynchronous use, copying the
// inputs), Execute() does the work on whichever thread runs it, Result() builds the JS value.
// RunSync and RunAsync turn it into `name` and `nameAsync`. Guard() and OpWorker are the only
// places that make JS errors. The file is long (about 640 lines) because it is the whole JS
// surface of the addon, one small class per operation; the work itself is in segment.cc.
#include "exports.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "accounting.h"
#include "args.h"
#include "distance.h"
#include "errors.h"
#include "memory_estimate.h"
#include "registry.h"
#include "segment.h"
#include "segment_file.h"

namespace shoal {
namespace {

// ---- errors ----------------------------------------------------------------------------

struct ErrorRecord {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::vector<ErrorDetail> details;
};

ErrorRecord RecordCurrentException() {
  try {
    throw;
  } catch (const Failure& f) {
    ErrorRecord r{f.code(), f.what(), {}};
    for (size_t i = 0; i < f.detail_count(); ++i) r.details.push_back(f.detail(i));
    return r;
  } catch (const std::bad_alloc&) {
    return {ErrorCode::kOutOfMemory, "native allocation failed (out of memory)", {}};
  } catch (const std::exception& e) {
    return {ErrorCode::kInternal, std::string("internal error: ") + e.what(), {}};
  }
}

Napi::Error MakeError(Napi::Env env, const ErrorRecord& r) {
  Napi::Error error = Napi::Error::New(env, r.message);
  error.Set("code", Napi::String::New(env, CodeName(r.code)));
  for (const ErrorDetail& d : r.details) error.Set(d.name, Napi::Number::New(env, d.value));
  return error;
}

template <typename Body>
Napi::Value Guard(const Napi::CallbackInfo& info, Body&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;  // already a JS exception
  } catch (...) {
    MakeError(info.Env(), RecordCurrentException()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

// ---- running an operation ----------------------------------------------------------------

template <typename Op>
Napi::Value RunSync(const Napi::CallbackInfo& info) {
  return Guard(info, [&] {
    Op op(info, /*async=*/false);
    op.Execute();
    return op.Result(info.Env());
  });
}

template <typename Op>
class OpWorker final : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::unique_ptr<Op> op)
      : Napi::AsyncWorker(env, "shoal"), op_(std::move(op)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      op_->Execute();
    } catch (...) {
      failure_ = std::make_unique<ErrorRecord>(RecordCurrentException());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_ != nullptr) {
      deferred_.Reject(MakeError(env, *failure_).Value());
      return;
    }
    try {
      deferred_.Resolve(op_->Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(MakeError(env, RecordCurrentException()).Value());
    }
  }

 private:
  std::unique_ptr<Op> op_;
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<ErrorRecord> failure_;
};

template <typename Op>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto op = std::make_unique<Op>(info, /*async=*/true);
    auto* worker = new OpWorker<Op>(env, std::move(op));  // deletes itself after OnOK
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  } catch (...) {
    // Argument errors reject too, so callers have one error channel.
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(MakeError(env, RecordCurrentException()).Value());
    return deferred.Promise();
  }
}

// ---- shared argument helpers -----------------------------------------------------------

bool IsAbsent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

// Ends a lease when Execute returns or throws, on the thread that did the work: a free waiting
// on the JS thread must not wait for the JS callback that follows the work.
class ReleaseOnExit {
 public:
  explicit ReleaseOnExit(SegmentLease& lease) : lease_(lease) {}
  ~ReleaseOnExit() { lease_.Release(); }
  ReleaseOnExit(const ReleaseOnExit&) = delete;
  ReleaseOnExit& operator=(const ReleaseOnExit&) = delete;

 private:
  SegmentLease& lease_;
};

// An optional Int32Array whose first element another thread may set to cancel. The
// reference keeps its buffer alive for the whole operation.
class CancelInput {
 public:
  CancelInput(const Napi::Value& v) {
    if (IsAbsent(v)) return;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        v.As<Napi::TypedArray>().ElementLength() < 1) {
      throw Failure(ErrorCode::kInvalidArgument,
                    "cancel: must be an Int32Array of length >= 1 (ideally on a "
                    "SharedArrayBuffer), got " + Describe(v));
    }
    auto array = v.As<Napi::Int32Array>();
    ref_ = Napi::Persistent(array.As<Napi::Object>());
    flag_ = CancelFlag(array.Data());
  }
  const CancelFlag& flag() const { return flag_; }

 private:
  Napi::ObjectReference ref_;
  CancelFlag flag_;
};

SpaceKind ReadSpace(const Napi::Value& v) {
  const std::string name = IsAbsent(v) ? "l2" : ReadString(v, "space");
  if (name == "l2") return SpaceKind::kL2;
  if (name == "ip") return SpaceKind::kInnerProduct;
  if (name == "cosine") return SpaceKind::kCosine;
  throw Failure(ErrorCode::kInvalidArgument,
                "space: must be 'l2', 'ip' or 'cosine', got '" + name + "'");
}

const char* SpaceName(SpaceKind kind) {
  switch (kind) {
    case SpaceKind::kL2: return "l2";
    case SpaceKind::kInnerProduct: return "ip";
    case SpaceKind::kCosine: return "cosine";
  }
  return "l2";
}

SegmentSpec ReadSpec(const Napi::Value& v) {
  if (!v.IsObject()) {
    throw Failure(ErrorCode::kInvalidArgument, "spec: must be an object, got " + Describe(v));
  }
  Napi::Object o = v.As<Napi::Object>();
  SegmentSpec spec;
  spec.dim = static_cast<uint32_t>(ReadUint(o.Get("dim"), "dim", 1, 65536));
  spec.space = ReadSpace(o.Get("space"));
  if (!IsAbsent(o.Get("M"))) spec.m = static_cast<uint32_t>(ReadUint(o.Get("M"), "M", 2, 2048));
  if (!IsAbsent(o.Get("efConstruction"))) {
    spec.ef_construction =
        static_cast<uint32_t>(ReadUint(o.Get("efConstruction"), "efConstruction", 1, 1 << 20));
  }
  spec.capacity = ReadUint(o.Get("capacity"), "capacity", 1, 0xFFFFFFFEull);
  if (!IsAbsent(o.Get("seed"))) spec.seed = ReadUint(o.Get("seed"), "seed", 0, (1ull << 53) - 1);
  CheckSpec(spec);
  return spec;
}

Napi::Object SpecToJs(Napi::Env env, const SegmentSpec& spec) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dim", spec.dim);
  o.Set("space", SpaceName(spec.space));
  o.Set("M", spec.m);
  o.Set("efConstruction", spec.ef_construction);
  o.Set("capacity", static_cast<double>(spec.capacity));
  o.Set("seed", static_cast<double>(spec.seed));
  return o;
}

// ---- operations --------------------------------------------------------------------------

class CreateOp {
 public:
  CreateOp(const Napi::CallbackInfo& info, bool) : spec_(ReadSpec(info[0])) {}
  void Execute() { handle_ = RegisterSegment(Segment::Create(spec_)); }
  Napi::Value Result(Napi::Env env) { return Napi::Number::New(env, static_cast<double>(handle_)); }

 private:
  SegmentSpec spec_;
  SegmentHandle handle_ = 0;
};

class LoadOp {
 public:
  LoadOp(const Napi::CallbackInfo& info, bool)
      : path_(ReadString(info[0], "path")),
        min_capacity_(IsAbsent(info[1]) ? 0 : ReadUint(info[1], "capacity", 0, 0xFFFFFFFEull)),
        cancel_(info[2]) {}
  void Execute() {
    handle_ = RegisterSegment(LoadSegmentFile(path_, min_capacity_, cancel_.flag()));
  }
  Napi::Value Result(Napi::Env env) { return Napi::Number::New(env, static_cast<double>(handle_)); }

 private:
  std::string path_;
  uint64_t min_capacity_;
  CancelInput cancel_;
  SegmentHandle handle_ = 0;
};

class FreeOp {
 public:
  // Unregisters at once, so no new call can start; Execute waits for calls in flight.
  FreeOp(const Napi::CallbackInfo& info, bool) : segment_(UnregisterSegment(ReadHandle(info[0]))) {}
  void Execute() {
    segment_->Close();
    segment_.reset();
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  std::shared_ptr<Segment> segment_;
};

class AddOp {
 public:
  AddOp(const Napi::CallbackInfo& info, bool async)
      : segment_(BorrowSegment(ReadHandle(info[0]))),
        labels_(ReadLabels(info[1], "labels", async)),
        vectors_(ReadFloats(info[2], "vectors", async)),
        mode_(info[3].ToBoolean() ? Segment::WriteMode::kUpsert : Segment::WriteMode::kAdd),
        cancel_(info[4]) {
    CheckRows(vectors_, "vectors", segment_->spec().dim, labels_.size());
  }
  void Execute() {
    ReleaseOnExit release(segment_);
    segment_->AddBatch(vectors_.data(), labels_.data(), labels_.size(), mode_, cancel_.flag());
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  SegmentLease segment_;
  LabelInput labels_;
  FloatInput vectors_;
  Segment::WriteMode mode_;
  CancelInput cancel_;
};

class DeleteOp {
 public:
  DeleteOp(const Napi::CallbackInfo& info, bool async)
      : segment_(BorrowSegment(ReadHandle(info[0]))), labels_(ReadLabels(info[1], "labels", async)) {}
  void Execute() {
    ReleaseOnExit release(segment_);
    segment_->DeleteBatch(labels_.data(), labels_.size());
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  SegmentLease segment_;
  LabelInput labels_;
};

// (handle, queries, k, ef, allow | null, cancel | null, outLabels?, outDistances?)
// With output arrays (synchronous calls only) results are written into them, typically views
// of a SharedArrayBuffer; otherwise they are returned as { labels, distances }.
class SearchOp {
 public:
  SearchOp(const Napi::CallbackInfo& info, bool async)
      : segment_(BorrowSegment(ReadHandle(info[0]))),
        queries_(ReadFloats(info[1], "queries", async)),
        k_(ReadUint(info[2], "k", 1, 1u << 20)),
        ef_(ReadUint(info[3], "ef", 1, 1u << 20)),
        cancel_(info[5]) {
    query_count_ = CheckRows(queries_, "queries", segment_->spec().dim);
    if (!IsAbsent(info[4])) {
      allow_ = ReadLabels(info[4], "allow", async);
      has_allow_ = true;
    }
    const size_t slots = query_count_ * k_;
    if (!IsAbsent(info[6]) || !IsAbsent(info[7])) {
      if (async) {
        throw Failure(ErrorCode::kInvalidArgument,
                      "outLabels/outDistances: only synchronous searches write into caller buffers");
      }
      auto labels = info[6];
      auto distances = info[7];
      if (!labels.IsTypedArray() ||
          labels.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
          labels.As<Napi::TypedArray>().ElementLength() < slots) {
        throw Failure(ErrorCode::kInvalidArgument,
                      "outLabels: must be a Uint32Array of length >= queries x k = " +
                          std::to_string(slots));
      }
      if (!distances.IsTypedArray() ||
          distances.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
          distances.As<Napi::TypedArray>().ElementLength() < slots) {
        throw Failure(ErrorCode::kInvalidArgument,
                      "outDistances: must be a Float32Array of length >= queries x k = " +
                          std::to_string(slots));
      }
      out_labels_ = labels.As<Napi::Uint32Array>().Data();
      out_distances_ = distances.As<Napi::Float32Array>().Data();
    } else {
      own_labels_.resize(slots);
      own_distances_.resize(slots);
      out_labels_ = own_labels_.data();
      out_distances_ = own_distances_.data();
    }
  }

  void Execute() {
    ReleaseOnExit release(segment_);
    segment_->SearchBatch(queries_.data(), query_count_, k_, ef_,
                          has_allow_ ? allow_.data() : nullptr, allow_.size(), out_labels_,
                          out_distances_, cancel_.flag());
  }

  Napi::Value Result(Napi::Env env) {
    if (own_labels_.empty() && own_distances_.empty() && query_count_ > 0) return env.Undefined();
    Napi::Object o = Napi::Object::New(env);
    auto labels = Napi::Uint32Array::New(env, own_labels_.size());
    auto distances = Napi::Float32Array::New(env, own_distances_.size());
    std::copy(own_labels_.begin(), own_labels_.end(), labels.Data());
    std::copy(own_distances_.begin(), own_distances_.end(), distances.Data());
    o.Set("labels", labels);
    o.Set("distances", distances);
    return o;
  }

 private:
  SegmentLease segment_;
  FloatInput queries_;
  size_t k_;
  size_t ef_;
  CancelInput cancel_;
  size_t query_count_ = 0;
  LabelInput allow_;
  bool has_allow_ = false;
  uint32_t* out_labels_ = nullptr;
  float* out_distances_ = nullptr;
  std::vector<uint32_t> own_labels_;
  std::vector<float> own_distances_;
};

class GetVectorsOp {
 public:
  GetVectorsOp(const Napi::CallbackInfo& info, bool async)
      : segment_(BorrowSegment(ReadHandle(info[0]))),
        labels_(ReadLabels(info[1], "labels", async)),
        out_(labels_.size() * segment_->spec().dim) {}
  void Execute() {
    ReleaseOnExit release(segment_);
    segment_->GetVectors(labels_.data(), labels_.size(), out_.data());
  }
  Napi::Value Result(Napi::Env env) {
    auto array = Napi::Float32Array::New(env, out_.size());
    std::copy(out_.begin(), out_.end(), array.Data());
    return array;
  }

 private:
  SegmentLease segment_;
  LabelInput labels_;
  std::vector<float> out_;
};

class ResizeOp {
 public:
  ResizeOp(const Napi::CallbackInfo& info, bool)
      : segment_(BorrowSegment(ReadHandle(info[0]))),
        capacity_(ReadUint(info[1], "capacity", 1, 0xFFFFFFFEull)) {}
  void Execute() {
    ReleaseOnExit release(segment_);
    segment_->Resize(capacity_);
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  SegmentLease segment_;
  uint64_t capacity_;
};

class SaveOp {
 public:
  SaveOp(const Napi::CallbackInfo& info, bool)
      : segment_(BorrowSegment(ReadHandle(info[0]))),
        path_(ReadString(info[1], "path")),
        cancel_(info[2]) {}
  void Execute() {
    ReleaseOnExit release(segment_);
    segment_->Save(path_, cancel_.flag());
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  SegmentLease segment_;
  std::string path_;
  CancelInput cancel_;
};

// ---- cheap, synchronous queries --------------------------------------------------------

Napi::Value SegmentInfoJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const SegmentInfo s = BorrowSegment(ReadHandle(info[0]))->Info();
    Napi::Env env = info.Env();
    Napi::Object o = SpecToJs(env, s.spec);
    o.Set("count", static_cast<double>(s.count));
    o.Set("deletedCount", static_cast<double>(s.deleted_count));
    o.Set("slotsUsed", static_cast<double>(s.slots_used));
    o.Set("bytes", static_cast<double>(s.bytes));
    o.Set("peakBytes", static_cast<double>(s.peak_bytes));
    o.Set("labelLockBytes", static_cast<double>(s.label_lock_bytes));
    o.Set("concurrentSearchesPeak", s.concurrent_searches_peak);
    o.Set("closed", s.closed);
    // The same bytes by part, priced from this segment's own counts (memory_estimate.h): what
    // grows with capacity, with elements, what is fixed, and the visited lists searches keep.
    const ByteEstimate parts = EstimateSegmentBytes(
        {s.spec.dim, s.spec.m, s.spec.capacity, s.slots_used, s.deleted_count,
         std::max<uint32_t>(1, s.concurrent_searches_peak)});
    Napi::Object breakdown = Napi::Object::New(env);
    breakdown.Set("capacityBytes", parts.capacity_bytes);
    breakdown.Set("elementBytes", parts.element_bytes);
    // The estimate prices hnswlib's label lock table, which a loaded segment holds only once
    // written.
    breakdown.Set("fixedBytes", parts.fixed_bytes - static_cast<double>(s.label_lock_bytes));
    breakdown.Set("labelLockBytes", parts.label_lock_bytes - static_cast<double>(s.label_lock_bytes));
    breakdown.Set("visitedBytes", parts.visited_bytes);
    o.Set("breakdown", breakdown);
    return o;
  });
}

Napi::Value SegmentBytesJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(),
                             static_cast<double>(BorrowSegment(ReadHandle(info[0]))->Bytes()));
  });
}

Napi::Value TotalBytesJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(TotalTrackedBytes()));
}

Napi::Value PeakTotalBytesJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PeakTotalTrackedBytes()));
}

Napi::Value LiveSegmentsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(LiveSegmentCount()));
}

Napi::Value ReadSegmentFileJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const SegmentFileSummary s = ReadSegmentFileSummary(ReadString(info[0], "path"));
    Napi::Object o = SpecToJs(info.Env(), s.spec);
    o.Set("formatVersion", s.format_version);
    o.Set("count", static_cast<double>(s.element_count));
    o.Set("deletedCount", static_cast<double>(s.deleted_count));
    o.Set("fileBytes", static_cast<double>(s.file_bytes));
    return o;
  });
}

Napi::Value EstimateBytesJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    if (!info[0].IsObject()) {
      throw Failure(ErrorCode::kInvalidArgument, "input: must be an object");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    EstimateInput in{};
    in.dim = static_cast<uint32_t>(ReadUint(o.Get("dim"), "dim", 1, 65536));
    in.m = static_cast<uint32_t>(ReadUint(o.Get("M"), "M", 2, 2048));
    in.capacity = ReadUint(o.Get("capacity"), "capacity", 0, 0xFFFFFFFEull);
    in.element_count = IsAbsent(o.Get("count")) ? 0 : ReadUint(o.Get("count"), "count", 0, in.capacity);
    in.deleted_count = IsAbsent(o.Get("deletedCount"))
                           ? 0
                           : ReadUint(o.Get("deletedCount"), "deletedCount", 0, in.capacity);
    in.concurrent_searches =
        IsAbsent(o.Get("concurrentSearches"))
            ? 1
            : static_cast<uint32_t>(ReadUint(o.Get("concurrentSearches"), "concurrentSearches", 1, 1024));
    const ByteEstimate e = EstimateSegmentBytes(in);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("capacityBytes", e.capacity_bytes);
    out.Set("elementBytes", e.element_bytes);
    out.Set("fixedBytes", e.fixed_bytes);
    out.Set("labelLockBytes", e.label_lock_bytes);
    out.Set("visitedBytes", e.visited_bytes);
    out.Set("totalBytes", e.total_bytes);
    return out;
  });
}

Napi::Value AllocatorCountersJs(const Napi::CallbackInfo& info) {
  const AllocatorCounters c = ReadAllocatorCounters();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("inUseBytes", c.in_use_bytes);
  o.Set("mmappedBytes", c.mmapped_bytes);
  o.Set("freeBytes", c.free_bytes);
  o.Set("available", c.available);
  o.Set("slackBytes", static_cast<double>(AllocatorSlack()));
  o.Set("retainedHeapBytes", static_cast<double>(RetainedHeapBytes()));
  o.Set("trims", static_cast<double>(AllocatorTrims()));
  return o;
}

Napi::Value TrimAllocatorJs(const Napi::CallbackInfo& info) {
  ReturnFreeMemoryToOs();
  return info.Env().Undefined();
}

Napi::Value SetAllocatorSlackJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    SetAllocatorSlack(static_cast<int64_t>(ReadUint(info[0], "slackBytes", 0, uint64_t{1} << 53)));
    return info.Env().Undefined();
  });
}

Napi::Value DistanceJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const SpaceKind space = ReadSpace(info[0]);
    FloatInput a = ReadFloats(info[1], "a", false);
    FloatInput b = ReadFloats(info[2], "b", false);
    if (a.size() != b.size() || a.size() == 0) {
      throw Failure(ErrorCode::kDimensionMismatch, "a, b: must have the same nonzero length");
    }
    const std::string level_name = ReadString(info[3], "kernel");
    KernelLevel level;
    if (level_name == "portable") level = KernelLevel::kPortable;
    else if (level_name == "avx2-fma") level = KernelLevel::kAvx2Fma;
    else throw Failure(ErrorCode::kInvalidArgument, "kernel: must be 'portable' or 'avx2-fma'");
    if (level == KernelLevel::kAvx2Fma && ActiveKernelLevel() != KernelLevel::kAvx2Fma &&
        !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
      throw Failure(ErrorCode::kInvalidArgument, "kernel: this CPU has no AVX2/FMA");
    }
    const size_t dim = a.size();
    DistanceFn fn = space == SpaceKind::kL2 ? L2SquaredKernel(level) : InnerProductKernel(level);
    if (space != SpaceKind::kCosine) return Napi::Number::New(info.Env(), fn(a.data(), b.data(), &dim));
    // Cosine is inner product on unit vectors, as segments store and query them.
    std::vector<float> ua(a.data(), a.data() + dim);
    std::vector<float> ub(b.data(), b.data() + dim);
    if (!NormalizeInPlace(ua.data(), dim) || !NormalizeInPlace(ub.data(), dim)) {
      throw Failure(ErrorCode::kInvalidVector, "a, b: cosine distance needs nonzero vectors");
    }
    return Napi::Number::New(info.Env(), fn(ua.data(), ub.data(), &dim));
  });
}

// Tells V8 how much native memory the JS side now keeps alive (a delta, bytes), so its
// heuristics see the real memory pressure. Returns V8's new total of external memory.
Napi::Value AdjustExternalMemoryJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    if (!info[0].IsNumber()) throw Failure(ErrorCode::kInvalidArgument, "delta: must be a number of bytes");
    const int64_t delta = info[0].As<Napi::Number>().Int64Value();
    return Napi::Number::New(
        info.Env(), static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), delta)));
  });
}

Napi::Value BuildInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernel", KernelLevelName(ActiveKernelLevel()));
#if defined(__SANITIZE_ADDRESS__)
  o.Set("sanitized", true);
#else
  o.Set("sanitized", false);
#endif
  o.Set("napiVersion", NAPI_VERSION);
  o.Set("hnswlib", "0.8.0");
  o.Set("segmentFormatVersion", 1);
  return o;
}

template <typename Op>
void ExportOp(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, RunSync<Op>, name));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, RunAsync<Op>, async_name));
}

}  // namespace

void RegisterExports(Napi::Env env, Napi::Object exports) {
  ExportOp<CreateOp>(env, exports, "createSegment");
  ExportOp<LoadOp>(env, exports, "loadSegment");
  ExportOp<FreeOp>(env, exports, "freeSegment");
  ExportOp<AddOp>(env, exports, "addBatch");
  ExportOp<DeleteOp>(env, exports, "deleteBatch");
  ExportOp<SearchOp>(env, exports, "searchBatch");
  ExportOp<GetVectorsOp>(env, exports, "getVectors");
  ExportOp<ResizeOp>(env, exports, "resizeSegment");
  ExportOp<SaveOp>(env, exports, "saveSegment");
  exports.Set("segmentInfo", Napi::Function::New(env, SegmentInfoJs, "segmentInfo"));
  exports.Set("segmentBytes", Napi::Function::New(env, SegmentBytesJs, "segmentBytes"));
  exports.Set("totalBytes", Napi::Function::New(env, TotalBytesJs, "totalBytes"));
  exports.Set("peakTotalBytes", Napi::Function::New(env, PeakTotalBytesJs, "peakTotalBytes"));
  exports.Set("liveSegments", Napi::Function::New(env, LiveSegmentsJs, "liveSegments"));
  exports.Set("readSegmentFile", Napi::Function::New(env, ReadSegmentFileJs, "readSegmentFile"));
  exports.Set("estimateBytes", Napi::Function::New(env, EstimateBytesJs, "estimateBytes"));
  exports.Set("allocatorCounters",
              Napi::Function::New(env, AllocatorCountersJs, "allocatorCounters"));
  exports.Set("trimAllocator", Napi::Function::New(env, TrimAllocatorJs, "trimAllocator"));
  exports.Set("setAllocatorSlack",
              Napi::Function::New(env, SetAllocatorSlackJs, "setAllocatorSlack"));
  exports.Set("distance", Napi::Function::New(env, DistanceJs, "distance"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfoJs, "buildInfo"));
  exports.Set("adjustExternalMemory",
              Napi::Function::New(env, AdjustExternalMemoryJs, "adjustExternalMemory"));
}

}  // namespace shoal
