// native/counted_alloc.h
//
// Forced into every translation unit of the addon, before anything else (binding.gyp's
// `-include` / ForcedIncludeFiles, scripts/prebuild.mjs's `-include`): routes the C
// allocation calls of shoal's own code and of hnswlib's header-only templates to the counted
// functions of accounting.cc. The global operator new and delete are replaced in accounting.cc
// (kept inside the library by native/exports.map, exports.txt on macOS, and by Windows DLLs
// exporting only what is marked), so the C++ allocations of the same code are counted too.
// Together they replace GNU ld's --wrap, which neither macOS's linker nor MSVC's has.
//
// Only calls are renamed (function-like macros), and only after the C and C++ library headers
// that declare or use these functions have been read with their real names: the headers are
// included here first, and their include guards keep a later #include from reading them
// again. `std::malloc(n)` becomes `std::shoal_counted_malloc(n)`, hence the using-declarations.
#pragma once

#ifdef __cplusplus

#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <queue>
#include <random>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#if defined(__GLIBC__) || defined(_WIN32) || (defined(__linux__) && !defined(__APPLE__))
#include <malloc.h>
#endif
#if defined(__APPLE__)
#include <malloc/malloc.h>
#endif

extern "C" {
void* shoal_counted_malloc(size_t size) noexcept;
void* shoal_counted_calloc(size_t count, size_t size) noexcept;
void* shoal_counted_realloc(void* p, size_t size) noexcept;
void shoal_counted_free(void* p) noexcept;
}

namespace std {
using ::shoal_counted_calloc;
using ::shoal_counted_free;
using ::shoal_counted_malloc;
using ::shoal_counted_realloc;
}  // namespace std

#define malloc(size) shoal_counted_malloc(size)
#define calloc(count, size) shoal_counted_calloc(count, size)
#define realloc(p, size) shoal_counted_realloc(p, size)
#define free(p) shoal_counted_free(p)

#endif  // __cplusplus
