// native/rw_lock.h
//
// A reader/writer lock that prefers writers: once a writer waits, new readers queue behind
// it. std::shared_mutex maps to a reader-preferring pthread rwlock on glibc, under which a
// steady stream of searches (two pool threads searching back to back) starves every insert.
// Meets the Lockable and SharedLockable requirements, so std::unique_lock and
// std::shared_lock work with it.
#pragma once

#include <condition_variable>
#include <mutex>

namespace shoal {

class RwLock {
 public:
  void lock() {
    std::unique_lock<std::mutex> guard(mutex_);
    ++writers_waiting_;
    writer_turn_.wait(guard, [this] { return !writer_active_ && readers_ == 0; });
    --writers_waiting_;
    writer_active_ = true;
  }

  void unlock() {
    std::lock_guard<std::mutex> guard(mutex_);
    writer_active_ = false;
    if (writers_waiting_ > 0) writer_turn_.notify_one();
    reader_turn_.notify_all();
  }

  void lock_shared() {
    std::unique_lock<std::mutex> guard(mutex_);
    reader_turn_.wait(guard, [this] { return !writer_active_ && writers_waiting_ == 0; });
    ++readers_;
  }

  void unlock_shared() {
    std::lock_guard<std::mutex> guard(mutex_);
    if (--readers_ == 0 && writers_waiting_ > 0) writer_turn_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable reader_turn_;
  std::condition_variable writer_turn_;
  int readers_ = 0;
  int writers_waiting_ = 0;
  bool writer_active_ = false;
};

}  // namespace shoal
