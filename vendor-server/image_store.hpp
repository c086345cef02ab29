#pragma once
// The content-addressed image store (DIR/images/SHA256) and small file helpers for the
// all-or-nothing publish: an exclusive lock file and a list of paths to remove on failure.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/expected.hpp"
#include "vendor-server/data_dir.hpp"

namespace fwchain::vendor {

struct StoredImage {
    std::string sha256;
    std::uint64_t size = 0;
    std::string path;
    bool created = false;  // false when the same bytes were already stored (another product)
};

// Streams `source` into a temp file in the store while hashing it, fsyncs, and renames it to
// its hash. Nothing named by a hash ever holds partial bytes.
Expected<StoredImage> StoreImageFile(const DataDir& dir, const std::string& source);
Expected<StoredImage> StoreImageBytes(const DataDir& dir, std::string_view bytes);

// flock(LOCK_EX) on a file for the lifetime of the object.
class FileLock {
  public:
    static Expected<FileLock> Acquire(const std::string& path);
    FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    FileLock& operator=(FileLock&&) = delete;
    FileLock(const FileLock&) = delete;
    ~FileLock();

  private:
    explicit FileLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// Removes the registered paths on destruction unless Commit() was called.
class Rollback {
  public:
    Rollback() = default;
    Rollback(const Rollback&) = delete;
    Rollback& operator=(const Rollback&) = delete;
    ~Rollback();
    void RemoveOnFailure(std::string path) { paths_.push_back(std::move(path)); }
    void OnFailure(std::function<void()> fn) { actions_.push_back(std::move(fn)); }
    void Commit() { committed_ = true; }

  private:
    std::vector<std::string> paths_;
    std::vector<std::function<void()>> actions_;
    bool committed_ = false;
};

}  // namespace fwchain::vendor
