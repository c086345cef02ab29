#pragma once
// A mutex whose locking clang can check at compile time (-Wthread-safety, the "thread safety
// analysis" of clang; scripts/tsan builds with it). Members are declared FW_GUARDED_BY(mu_),
// functions that expect the caller to hold a lock FW_REQUIRES(mu_), and functions that take it
// themselves FW_EXCLUDES(mu_); a read or write of a guarded member without its lock, or a call
// that breaks a REQUIRES/EXCLUDES contract, is then a compile error. Under GCC the attributes
// expand to nothing and Mutex is a std::mutex.
#include <mutex>

#if defined(__clang__)
#define FW_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define FW_THREAD_ANNOTATION(x)
#endif

#define FW_CAPABILITY(x) FW_THREAD_ANNOTATION(capability(x))
#define FW_SCOPED_CAPABILITY FW_THREAD_ANNOTATION(scoped_lockable)
#define FW_GUARDED_BY(x) FW_THREAD_ANNOTATION(guarded_by(x))
#define FW_PT_GUARDED_BY(x) FW_THREAD_ANNOTATION(pt_guarded_by(x))
#define FW_ACQUIRED_BEFORE(...) FW_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define FW_REQUIRES(...) FW_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define FW_ACQUIRE(...) FW_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define FW_RELEASE(...) FW_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define FW_TRY_ACQUIRE(...) FW_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define FW_EXCLUDES(...) FW_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define FW_RETURN_CAPABILITY(x) FW_THREAD_ANNOTATION(lock_returned(x))
#define FW_NO_THREAD_SAFETY_ANALYSIS FW_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace fwchain {

// A std::mutex that the analysis knows as a capability. It is a std::mutex, so
// std::condition_variable can wait on a UniqueLock of it.
class FW_CAPABILITY("mutex") Mutex : public std::mutex {
  public:
    void lock() FW_ACQUIRE() { std::mutex::lock(); }
    void unlock() FW_RELEASE() { std::mutex::unlock(); }
    bool try_lock() FW_TRY_ACQUIRE(true) { return std::mutex::try_lock(); }
};

// Holds a Mutex for its scope (std::lock_guard).
class FW_SCOPED_CAPABILITY MutexLock {
  public:
    explicit MutexLock(Mutex& mu) FW_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
    ~MutexLock() FW_RELEASE() { mu_.unlock(); }
    MutexLock(const MutexLock&) = delete;
    MutexLock& operator=(const MutexLock&) = delete;

  private:
    Mutex& mu_;
};

// A std::unique_lock of a Mutex that the analysis follows through unlock() and lock(): for
// condition variables and for work that lets the lock go between steps.
class FW_SCOPED_CAPABILITY UniqueLock : public std::unique_lock<std::mutex> {
  public:
    explicit UniqueLock(Mutex& mu) FW_ACQUIRE(mu) : std::unique_lock<std::mutex>(mu) {}
    ~UniqueLock() FW_RELEASE() {}
    void lock() FW_ACQUIRE() { std::unique_lock<std::mutex>::lock(); }
    void unlock() FW_RELEASE() { std::unique_lock<std::mutex>::unlock(); }
};

}  // namespace fwchain
