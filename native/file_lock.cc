// native/file_lock.cc
//
// LockFile/UnlockFile (file_lock.h) for POSIX and, under _WIN32 only, for Windows. Handles
// are checked against the set this process issued, so a stray number from JS can never close
// a descriptor the lock does not own.
#include "file_lock.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "errors.h"
#include "os_file.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#endif

namespace shoal {
namespace {

struct HeldLocks {
  std::mutex mutex;
  std::unordered_set<FileLockHandle> handles;
};

HeldLocks& Held() {
  static HeldLocks* held = new HeldLocks();  // leaked: no static destructor at exit
  return *held;
}

// The pid a LOCK file names, or -1. Best effort: the holder writes it just after locking, so a
// reader can find the file still empty.
double ParsePid(const char* text, size_t size) {
  double pid = 0;
  size_t digits = 0;
  for (size_t i = 0; i < size && text[i] >= '0' && text[i] <= '9' && digits < 10; ++i, ++digits) {
    pid = pid * 10 + (text[i] - '0');
  }
  return digits > 0 && pid > 0 ? pid : -1;
}

[[noreturn]] void ThrowLocked(const std::string& path, double pid) {
  if (pid > 0) {
    throw Failure(ErrorCode::kLocked,
                  path + ": already locked (the file names pid " +
                      std::to_string(static_cast<int64_t>(pid)) + ")",
                  {{"pid", pid}});
  }
  throw Failure(ErrorCode::kLocked, path + ": already locked");
}

#ifdef _WIN32

// Windows byte-range locks are mandatory: a locked byte cannot be read by anyone else. The
// lock covers one byte far past the end of the file, so the pid stays readable.
constexpr DWORD kLockOffsetHigh = 0x40000000;

[[noreturn]] void ThrowWin(const std::string& path, const char* what) {
  throw Failure(ErrorCode::kIo,
                path + ": " + what + " failed (Windows error " + std::to_string(GetLastError()) + ")");
}

FileLockHandle LockFileOs(const std::string& path) {
  HANDLE h = CreateFileW(WidePath(path).c_str(), GENERIC_READ | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) ThrowWin(path, "open");
  OVERLAPPED at{};
  at.OffsetHigh = kLockOffsetHigh;
  if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at)) {
    const DWORD err = GetLastError();
    double pid = -1;
    if (err == ERROR_LOCK_VIOLATION) {
      char text[32];
      DWORD got = 0;
      if (ReadFile(h, text, sizeof text, &got, nullptr)) pid = ParsePid(text, got);
      CloseHandle(h);
      ThrowLocked(path, pid);
    }
    CloseHandle(h);
    SetLastError(err);
    ThrowWin(path, "lock");
  }
  const std::string pid = std::to_string(GetCurrentProcessId());
  DWORD put = 0;
  LARGE_INTEGER zero{};
  // Informational only: a failure here does not undo the lock.
  if (SetFilePointerEx(h, zero, nullptr, FILE_BEGIN) && SetEndOfFile(h)) {
    WriteFile(h, pid.data(), static_cast<DWORD>(pid.size()), &put, nullptr);
  }
  return static_cast<FileLockHandle>(reinterpret_cast<uintptr_t>(h));
}

void UnlockFileOs(FileLockHandle handle) {
  HANDLE h = reinterpret_cast<HANDLE>(static_cast<uintptr_t>(handle));
  OVERLAPPED at{};
  at.OffsetHigh = kLockOffsetHigh;
  UnlockFileEx(h, 0, 1, 0, &at);
  if (!CloseHandle(h)) ThrowWin("lock file", "close");
}

double ProbeFileLockOs(const std::string& path) {
  HANDLE h = CreateFileW(Wide(path).c_str(), GENERIC_READ,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    if (GetLastError() == ERROR_FILE_NOT_FOUND || GetLastError() == ERROR_PATH_NOT_FOUND) return -1;
    ThrowWin(path, "open");
  }
  OVERLAPPED at{};
  at.OffsetHigh = kLockOffsetHigh;
  double result = -1;
  if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at)) {
    UnlockFileEx(h, 0, 1, 0, &at);
  } else if (GetLastError() == ERROR_LOCK_VIOLATION) {
    char text[32];
    DWORD got = 0;
    result = ReadFile(h, text, sizeof text, &got, nullptr) ? ParsePid(text, got) : -1;
    if (result < 0) result = 0;
  } else {
    CloseHandle(h);
    ThrowWin(path, "lock");
  }
  CloseHandle(h);
  return result;
}

#else

[[noreturn]] void ThrowIo(const std::string& path, const char* what, int err) {
  throw Failure(ErrorCode::kIo, path + ": " + what + " failed: " + std::strerror(err));
}

// flock, not fcntl's record locks: a record lock belongs to the process and is dropped when
// the process closes *any* descriptor of the file (reading the pid, say), and it does not
// conflict with another open of the file within the same process. flock locks belong to
// the open file description, so a second open in this process is refused like any other.
// O_CLOEXEC keeps child processes from inheriting the descriptor, and with it the lock.
FileLockHandle LockFileOs(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowIo(path, "open", errno);
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char text[32];
      const ssize_t got = ::pread(fd, text, sizeof text, 0);
      ::close(fd);
      ThrowLocked(path, got > 0 ? ParsePid(text, static_cast<size_t>(got)) : -1);
    }
    ::close(fd);
    ThrowIo(path, "lock", err);
  }
  // Informational only: a failure here does not undo the lock. Truncate first, so a reader
  // sees either nothing or this pid, never this pid over the tail of a longer old one.
  const std::string pid = std::to_string(static_cast<int64_t>(::getpid()));
  if (::ftruncate(fd, 0) == 0) {
    const ssize_t put = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)put;
  }
  return static_cast<FileLockHandle>(fd);
}

void UnlockFileOs(FileLockHandle handle) {
  const int fd = static_cast<int>(handle);
  ::flock(fd, LOCK_UN);  // close drops it anyway; explicit for clarity of intent
  // No retry on EINTR: on Linux the descriptor is gone either way, and a retry could close a
  // descriptor another thread has just been given.
  if (::close(fd) != 0 && errno != EINTR) ThrowIo("lock file", "close", errno);
}

double ProbeFileLockOs(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return -1;
    ThrowIo(path, "open", errno);
  }
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  double result = -1;
  if (rc == 0) {
    ::flock(fd, LOCK_UN);
  } else if (errno == EWOULDBLOCK) {
    char text[32];
    const ssize_t got = ::pread(fd, text, sizeof text, 0);
    result = got > 0 ? ParsePid(text, static_cast<size_t>(got)) : -1;
    if (result < 0) result = 0;
  } else {
    const int err = errno;
    ::close(fd);
    ThrowIo(path, "lock", err);
  }
  ::close(fd);
  return result;
}

#endif

}  // namespace

FileLockHandle LockFile(const std::string& path) {
  const FileLockHandle handle = LockFileOs(path);
  std::lock_guard<std::mutex> guard(Held().mutex);
  Held().handles.insert(handle);
  return handle;
}

double ProbeFileLock(const std::string& path) { return ProbeFileLockOs(path); }

void UnlockFile(FileLockHandle handle) {
  {
    std::lock_guard<std::mutex> guard(Held().mutex);
    if (Held().handles.erase(handle) == 0) {
      throw Failure(ErrorCode::kInvalidArgument,
                    "handle: not a file lock this process holds (released already?)");
    }
  }
  UnlockFileOs(handle);
}

}  // namespace shoal
