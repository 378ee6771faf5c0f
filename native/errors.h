// native/errors.h
//
// The native error vocabulary: a stable code per kind of failure, and Failure, the one
// exception type shoal's C++ throws. Codes are API (the TypeScript side maps each to a class);
// messages are for people and say what was wrong and what was expected.
// Does not own: turning a Failure into a JS error (js_call.cc does that in one place).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace shoal {

enum class ErrorCode {
  kInvalidArgument,
  kDimensionMismatch,
  kInvalidVector,
  kInvalidLabel,
  kAlreadyExists,
  kNotFound,
  kCapacityExceeded,
  kNotASegment,
  kUnsupportedVersion,
  kCorrupt,
  kClosed,
  kAborted,
  kIo,
  kLocked,
  kOutOfMemory,
  kInternal,
};

inline const char* CodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "SHOAL_INVALID_ARGUMENT";
    case ErrorCode::kDimensionMismatch: return "SHOAL_DIMENSION_MISMATCH";
    case ErrorCode::kInvalidVector: return "SHOAL_INVALID_VECTOR";
    case ErrorCode::kInvalidLabel: return "SHOAL_INVALID_LABEL";
    case ErrorCode::kAlreadyExists: return "SHOAL_ALREADY_EXISTS";
    case ErrorCode::kNotFound: return "SHOAL_NOT_FOUND";
    case ErrorCode::kCapacityExceeded: return "SHOAL_CAPACITY_EXCEEDED";
    case ErrorCode::kNotASegment: return "SHOAL_NOT_A_SEGMENT";
    case ErrorCode::kUnsupportedVersion: return "SHOAL_UNSUPPORTED_VERSION";
    case ErrorCode::kCorrupt: return "SHOAL_CORRUPT";
    case ErrorCode::kClosed: return "SHOAL_CLOSED";
    case ErrorCode::kAborted: return "SHOAL_ABORTED";
    case ErrorCode::kIo: return "SHOAL_IO";
    case ErrorCode::kLocked: return "SHOAL_LOCKED";
    case ErrorCode::kOutOfMemory: return "SHOAL_OUT_OF_MEMORY";
    case ErrorCode::kInternal: return "SHOAL_INTERNAL";
  }
  return "SHOAL_INTERNAL";
}

// A numeric fact attached to an error (expected dimension, offending index, ...), surfaced
// as a property of the JS error so callers need not parse messages. Names are literals.
struct ErrorDetail {
  const char* name;
  double value;
};

// Holds no heap memory of its own (the message lives in std::runtime_error's storage, which
// libstdc++ allocates outside shoal's allocation tracking): a Failure thrown while a segment's
// allocations are being charged (accounting.h) therefore never leaves bytes charged to it.
class Failure : public std::runtime_error {
 public:
  static constexpr size_t kMaxDetails = 4;

  Failure(ErrorCode code, const std::string& message,
          std::initializer_list<ErrorDetail> details = {})
      : std::runtime_error(message), code_(code) {
    for (const ErrorDetail& d : details) {
      if (detail_count_ == kMaxDetails) break;
      details_[detail_count_++] = d;
    }
  }

  // For use inside a ChargeScope (accounting.h): copies the literal without building a
  // std::string in shoal's code.
  Failure(ErrorCode code, const char* literal) : std::runtime_error(literal), code_(code) {}

  ErrorCode code() const { return code_; }
  size_t detail_count() const { return detail_count_; }
  const ErrorDetail& detail(size_t i) const { return details_[i]; }

 private:
  ErrorCode code_;
  std::array<ErrorDetail, kMaxDetails> details_{};
  size_t detail_count_ = 0;
};

}  // namespace shoal
