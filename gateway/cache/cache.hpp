#pragma once
// Content-addressed image cache: DIR/SHA256, written through DIR/.partial and renamed into place
// only after its size and SHA-256 match. Bounded by a byte cap with LRU eviction that never
// evicts an image a device is fetching (pinned).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/core/expected.hpp"

namespace fwchain::gateway {

class ContentCache {
  public:
    // max_bytes 0 = unbounded.
    static Expected<std::unique_ptr<ContentCache>> Open(const std::string& dir,
                                                        std::uint64_t max_bytes);

    bool Has(const std::string& sha256);
    const std::string& dir() const { return dir_; }
    std::string partial_dir() const { return dir_ + "/.partial"; }
    std::string PathOf(const std::string& sha256) const { return dir_ + "/" + sha256; }
    std::string PartialPathOf(const std::string& sha256) const {
        return dir_ + "/.partial/" + sha256;
    }
    // Verifies the partial file (size, SHA-256) and moves it into the cache atomically.
    Status Commit(const std::string& sha256, std::uint64_t size);

    // Pins an image for the duration of a transfer; Unpin releases it.
    bool Pin(const std::string& sha256);
    void Unpin(const std::string& sha256);

    // Evicts least recently used, unpinned images until the total fits the cap, sparing `keep`.
    void Evict(const std::string& keep = "");
    std::uint64_t TotalBytes();
    std::uint64_t max_bytes() const { return max_bytes_; }
    // sha256 -> size of every cached image.
    std::map<std::string, std::uint64_t> Contents();

  private:
    ContentCache(std::string dir, std::uint64_t max_bytes)
        : dir_(std::move(dir)), max_bytes_(max_bytes) {}
    struct Entry {
        std::uint64_t size = 0;
        std::uint64_t last_used = 0;  // logical clock
        int pins = 0;
    };
    void Touch(Entry& e) { e.last_used = ++clock_; }

    std::string dir_;
    std::uint64_t max_bytes_;
    std::mutex mu_;
    std::map<std::string, Entry> entries_;
    std::uint64_t clock_ = 0;
};

}  // namespace fwchain::gateway
