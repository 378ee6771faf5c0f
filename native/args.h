// native/args.h
//
// Readers for JS arguments. Each returns a typed value or throws Failure naming the argument
// and what was expected; none hides control flow. Inputs read for asynchronous work are
// copied, so JS may reuse or detach its arrays while the work runs.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.h"
#include "registry.h"
#include "segment_spec.h"

namespace shoal {

inline bool IsAbsent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

inline std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return std::to_string(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "a string";
  if (v.IsTypedArray()) return "a typed array of another type";
  if (v.IsArray()) return "an array";
  return "a value of another type";
}

inline uint64_t ReadUint(const Napi::Value& v, const char* name, uint64_t min, uint64_t max) {
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(min) &&
        d <= static_cast<double>(max)) {
      return static_cast<uint64_t>(d);
    }
  }
  throw Failure(ErrorCode::kInvalidArgument, std::string(name) + ": must be an integer from " +
                                                 std::to_string(min) + " to " +
                                                 std::to_string(max) + ", got " + Describe(v));
}

inline SegmentHandle ReadHandle(const Napi::Value& v) {
  return ReadUint(v, "handle", 1, (1ull << 53) - 1);
}

inline std::string ReadString(const Napi::Value& v, const char* name) {
  if (!v.IsString()) {
    throw Failure(ErrorCode::kInvalidArgument,
                  std::string(name) + ": must be a string, got " + Describe(v));
  }
  return v.As<Napi::String>().Utf8Value();
}

template <typename T, napi_typedarray_type kType>
class ArrayInput {
 public:
  ArrayInput() = default;
  // Reads a typed array of the expected element type; copies it when `copy` is set.
  ArrayInput(const Napi::Value& v, const char* name, const char* type_name, bool copy) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kType) {
      throw Failure(ErrorCode::kInvalidArgument,
                    std::string(name) + ": must be a " + type_name + ", got " + Describe(v));
    }
    auto array = v.As<Napi::TypedArrayOf<T>>();
    size_ = array.ElementLength();
    if (copy) {
      owned_.assign(array.Data(), array.Data() + size_);
      data_ = owned_.data();
    } else {
      data_ = array.Data();
    }
  }
  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const T* data_ = nullptr;
  size_t size_ = 0;
  std::vector<T> owned_;
};

using FloatInput = ArrayInput<float, napi_float32_array>;
using LabelInput = ArrayInput<uint32_t, napi_uint32_array>;

inline FloatInput ReadFloats(const Napi::Value& v, const char* name, bool copy) {
  return FloatInput(v, name, "Float32Array", copy);
}

inline LabelInput ReadLabels(const Napi::Value& v, const char* name, bool copy) {
  return LabelInput(v, name, "Uint32Array", copy);
}

// n x dim rows: the length must be a whole number of rows (and `rows` of them, if given).
inline size_t CheckRows(const FloatInput& in, const char* name, uint32_t dim,
                        size_t expected_rows = SIZE_MAX) {
  const bool whole = in.size() % dim == 0;
  if (!whole || (expected_rows != SIZE_MAX && in.size() != expected_rows * dim)) {
    const std::string want = expected_rows != SIZE_MAX
                                 ? std::to_string(expected_rows) + " x " + std::to_string(dim) +
                                       " = " + std::to_string(expected_rows * dim)
                                 : "a multiple of dim " + std::to_string(dim);
    throw Failure(ErrorCode::kDimensionMismatch,
                  std::string(name) + ": length must be " + want + ", got " +
                      std::to_string(in.size()),
                  {{"expected", static_cast<double>(dim)},
                   {"length", static_cast<double>(in.size())}});
  }
  return in.size() / dim;
}

// An optional Int32Array whose first element another thread may set to cancel. The
// reference keeps its buffer alive for the whole operation.
class CancelInput {
 public:
  explicit CancelInput(const Napi::Value& v) {
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

inline SpaceKind ReadSpace(const Napi::Value& v) {
  const std::string name = IsAbsent(v) ? "l2" : ReadString(v, "space");
  if (name == "l2") return SpaceKind::kL2;
  if (name == "ip") return SpaceKind::kInnerProduct;
  if (name == "cosine") return SpaceKind::kCosine;
  throw Failure(ErrorCode::kInvalidArgument,
                "space: must be 'l2', 'ip' or 'cosine', got '" + name + "'");
}

inline SegmentSpec ReadSpec(const Napi::Value& v) {
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

}  // namespace shoal
