// native/js_call.cc
//
// Converts the exception being handled into an error record, and a record into a JS error
// carrying its code and numeric details.
#include "js_call.h"

namespace shoal {

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

}  // namespace shoal
