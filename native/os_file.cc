// native/os_file.cc -- see os_file.h.
#include "os_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "errors.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace shoal {
namespace {

// One call moves at most this much, so a huge read or write is not one system call.
constexpr size_t kChunkBytes = 8u << 20;

#ifdef _WIN32
[[noreturn]] void ThrowIo(const std::string& path, const char* what) {
  throw Failure(ErrorCode::kIo,
                path + ": " + what + " failed (Windows error " + std::to_string(GetLastError()) + ")");
}
#else
[[noreturn]] void ThrowIo(const std::string& path, const char* what) {
  throw Failure(ErrorCode::kIo, path + ": " + what + " failed: " + std::strerror(errno));
}
#endif

}  // namespace

#ifdef _WIN32

std::wstring WidePath(const std::string& path) {
  const int n = MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, nullptr, 0);
  if (n <= 0) ThrowIo(path, "path conversion");
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, &out[0], n);
  out.resize(static_cast<size_t>(n - 1));
  return out;
}

OsFile::OsFile(const std::string& path, Mode mode) : path_(path) {
  const bool write = mode == Mode::kCreateTruncate;
  HANDLE h = CreateFileW(WidePath(path).c_str(), write ? GENERIC_WRITE : GENERIC_READ,
                         FILE_SHARE_READ | FILE_SHARE_DELETE | (write ? 0 : FILE_SHARE_WRITE), nullptr,
                         write ? CREATE_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) ThrowIo(path, "open");
  handle_ = h;
}

OsFile::~OsFile() {
  if (handle_ != nullptr) CloseHandle(static_cast<HANDLE>(handle_));
}

uint64_t OsFile::Size() {
  LARGE_INTEGER size;
  if (!GetFileSizeEx(static_cast<HANDLE>(handle_), &size)) ThrowIo(path_, "stat");
  return static_cast<uint64_t>(size.QuadPart);
}

bool OsFile::ReadAll(void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    DWORD got = 0;
    if (!ReadFile(static_cast<HANDLE>(handle_), p, static_cast<DWORD>(std::min(size, kChunkBytes)), &got, nullptr)) {
      ThrowIo(path_, "read");
    }
    if (got == 0) return false;
    p += got;
    size -= got;
  }
  return true;
}

void OsFile::WriteAll(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    DWORD put = 0;
    if (!WriteFile(static_cast<HANDLE>(handle_), p, static_cast<DWORD>(std::min(size, kChunkBytes)), &put, nullptr)) {
      ThrowIo(path_, "write");
    }
    p += put;
    size -= put;
  }
}

void OsFile::WriteAt(uint64_t offset, const void* data, size_t size) {
  OVERLAPPED at{};
  at.Offset = static_cast<DWORD>(offset);
  at.OffsetHigh = static_cast<DWORD>(offset >> 32);
  DWORD put = 0;
  if (!WriteFile(static_cast<HANDLE>(handle_), data, static_cast<DWORD>(size), &put, &at) || put != size) {
    ThrowIo(path_, "write");
  }
}

void OsFile::Sync() {
  if (!FlushFileBuffers(static_cast<HANDLE>(handle_))) ThrowIo(path_, "fsync");
}

void OsFile::Close() {
  HANDLE h = static_cast<HANDLE>(handle_);
  handle_ = nullptr;
  if (!CloseHandle(h)) ThrowIo(path_, "close");
}

void ReplaceFileAtomically(const std::string& from, const std::string& to) {
  if (!MoveFileExW(WidePath(from).c_str(), WidePath(to).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    ThrowIo(to, "rename");
  }
}

void RemoveFileQuietly(const std::string& path) { DeleteFileW(WidePath(path).c_str()); }

void SyncDirectoryOf(const std::string&) {}

uint64_t CurrentProcessId() { return GetCurrentProcessId(); }

#else

namespace {
std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

OsFile::OsFile(const std::string& path, Mode mode) : path_(path) {
  const int flags = mode == Mode::kRead ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC;
  fd_ = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd_ < 0) ThrowIo(path, "open");
}

OsFile::~OsFile() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t OsFile::Size() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) ThrowIo(path_, "stat");
  return static_cast<uint64_t>(st.st_size);
}

bool OsFile::ReadAll(void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t got = ::read(fd_, p, std::min(size, kChunkBytes));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) ThrowIo(path_, "read");
    if (got == 0) return false;
    p += got;
    size -= static_cast<size_t>(got);
  }
  return true;
}

void OsFile::WriteAll(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t put = ::write(fd_, p, std::min(size, kChunkBytes));
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) ThrowIo(path_, "write");
    p += put;
    size -= static_cast<size_t>(put);
  }
}

void OsFile::WriteAt(uint64_t offset, const void* data, size_t size) {
  if (::pwrite(fd_, data, size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size)) {
    ThrowIo(path_, "write");
  }
}

void OsFile::Sync() {
  if (::fsync(fd_) != 0) ThrowIo(path_, "fsync");
}

void OsFile::Close() {
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) ThrowIo(path_, "close");
}

void ReplaceFileAtomically(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) ThrowIo(to, "rename");
}

void RemoveFileQuietly(const std::string& path) { ::unlink(path.c_str()); }

void SyncDirectoryOf(const std::string& path) {
  const std::string dir = DirectoryOf(path);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowIo(dir, "open");
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  errno = err;
  if (rc != 0) ThrowIo(dir, "fsync");
}

uint64_t CurrentProcessId() { return static_cast<uint64_t>(::getpid()); }

#endif

}  // namespace shoal
