// native/file_lock.h
//
// Exclusive, non-blocking locks on files, held through the OS's own file locks (flock on
// POSIX, LockFileEx on Windows): the kernel drops a lock when its holder dies, however it
// dies, so a lock never goes stale and no pid is ever judged. The data-directory lock
// (src/storage/dir-lock.ts) is built on it.
#pragma once

#include <cstdint>
#include <string>

namespace shoal {

using FileLockHandle = uint64_t;

// Opens (creating if needed) `path` and locks it exclusively without waiting; then writes this
// process's pid into it, for operators only. Throws Failure(kLocked) when another open of the
// file holds the lock -- another process, or this one through another LockFile -- with the pid
// the file names as detail "pid" when it names one; Failure(kIo) naming the path otherwise.
FileLockHandle LockFile(const std::string& path);

// Unlocks and closes. The file is left in place. Throws kInvalidArgument for a handle that is
// not held (released already, or never issued), kIo if closing fails.
void UnlockFile(FileLockHandle handle);

// Whether another open of `path` holds its lock, found without writing anything: the file is
// opened read-only (never created), locked without waiting and unlocked at once. Returns -1
// when the file does not exist or nobody holds it, else the pid the file names (0 when it
// names none). For readers that must not change a directory (`shoal stats`). Throws kIo.
double ProbeFileLock(const std::string& path);

}  // namespace shoal
