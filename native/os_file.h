// native/os_file.h
//
// The few file operations segment files need, on each OS's own calls: POSIX descriptors, or
// Win32 handles under _WIN32 (UTF-8 paths widened; files opened in binary; the rename that
// replaces a file is MoveFileExW with write-through, as POSIX rename is atomic). Errors are
// Failure(kIo) naming the path, the operation and the OS's reason.
// Does not own: what the bytes mean, checksums, cancel checks (segment_file.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace shoal {

class OsFile {
 public:
  enum class Mode { kRead, kCreateTruncate };
  OsFile(const std::string& path, Mode mode);
  ~OsFile();
  OsFile(const OsFile&) = delete;
  OsFile& operator=(const OsFile&) = delete;

  uint64_t Size();
  // Reads exactly `size` bytes; returns false at end of file before that.
  bool ReadAll(void* data, size_t size);
  void WriteAll(const void* data, size_t size);
  // Writes at `offset` without moving the position the other calls use.
  void WriteAt(uint64_t offset, const void* data, size_t size);
  void Sync();
  void Close();

 private:
  std::string path_;
#ifdef _WIN32
  void* handle_;
#else
  int fd_;
#endif
};

// Renames `from` over `to`, replacing it atomically.
void ReplaceFileAtomically(const std::string& from, const std::string& to);
// Removes `path`; no error if that fails (cleanup after another failure).
void RemoveFileQuietly(const std::string& path);
// Makes a rename inside `path`'s directory durable (fsync of the directory on POSIX; Windows
// has no directory handle to flush and MoveFileExW's write-through covers it).
void SyncDirectoryOf(const std::string& path);
uint64_t CurrentProcessId();

#ifdef _WIN32
// A UTF-8 path as Windows' wide-character calls take it.
std::wstring WidePath(const std::string& path);
#endif

}  // namespace shoal
