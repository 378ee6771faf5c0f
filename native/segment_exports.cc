// native/segment_exports.cc
//
// The JS functions that act on segments: one operation class per call (create, load, free,
// add, delete, search, get, resize, save), each exported sync and async through js_call.h,
// and the cheap per-segment and per-file queries. The work itself is in segment.cc.
#include "exports.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "js_call.h"
#include "memory_estimate.h"
#include "registry.h"
#include "segment.h"
#include "segment_file.h"

namespace shoal {
namespace {

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

const char* SpaceName(SpaceKind kind) {
  switch (kind) {
    case SpaceKind::kL2: return "l2";
    case SpaceKind::kInnerProduct: return "ip";
    case SpaceKind::kCosine: return "cosine";
  }
  return "l2";
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
    handle_ = RegisterSegment(Segment::Load(path_, min_capacity_, cancel_.flag()));
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
        cancel_(info[4]),
        threads_(IsAbsent(info[5]) ? 1 : static_cast<size_t>(ReadUint(info[5], "threads", 1, 64))) {
    CheckRows(vectors_, "vectors", segment_->spec().dim, labels_.size());
  }
  void Execute() {
    ReleaseOnExit release(segment_);
    segment_->AddBatch(vectors_.data(), labels_.data(), labels_.size(), mode_, cancel_.flag(), threads_);
  }
  Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  SegmentLease segment_;
  LabelInput labels_;
  FloatInput vectors_;
  Segment::WriteMode mode_;
  CancelInput cancel_;
  size_t threads_;
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

// (handle, queries, k, ef, allow | null, cancel | null, outLabels?, outDistances?, allowBits?)
// allowBits: a Uint32Array bitset over labels (bit l of word l >> 5), instead of allow.
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
    if (info.Length() > 8 && !IsAbsent(info[8])) {
      if (has_allow_) throw Failure(ErrorCode::kInvalidArgument, "allowBits: give allow or allowBits, not both");
      bit_words_ = ReadLabels(info[8], "allowBits", async);
      bits_ = LabelBits{bit_words_.data(), bit_words_.size(), CountBits(bit_words_.data(), bit_words_.size())};
      has_bits_ = true;
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
                          out_distances_, cancel_.flag(), has_bits_ ? &bits_ : nullptr);
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
  LabelInput bit_words_;
  LabelBits bits_;
  bool has_bits_ = false;
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

}  // namespace

void RegisterSegmentExports(Napi::Env env, Napi::Object exports) {
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
  exports.Set("liveSegments", Napi::Function::New(env, LiveSegmentsJs, "liveSegments"));
  exports.Set("readSegmentFile", Napi::Function::New(env, ReadSegmentFileJs, "readSegmentFile"));
}

}  // namespace shoal
