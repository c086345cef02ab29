#include "gateway/cache/cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "common/core/bytes.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"

namespace fwchain::gateway {

Expected<std::unique_ptr<ContentCache>> ContentCache::Open(const std::string& dir,
                                                           std::uint64_t max_bytes) {
    FW_TRY(MakeDirs(dir + "/.partial"));
    std::unique_ptr<ContentCache> cache(new ContentCache(dir, max_bytes));
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || !IsHex(name, 32)) continue;
        Entry e;
        e.size = static_cast<std::uint64_t>(entry.file_size(ec));
        cache->Touch(e);
        cache->entries_[name] = e;
    }
    return cache;
}

bool ContentCache::Has(const std::string& sha256) {
    std::lock_guard lock(mu_);
    return entries_.count(sha256) > 0;
}

Status ContentCache::Commit(const std::string& sha256, std::uint64_t size) {
    const std::string partial = PartialPathOf(sha256);
    struct stat st {};
    if (::stat(partial.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size) {
        ::unlink(partial.c_str());
        return Fail(Errc::kVerify, "size-mismatch",
                    "downloaded image " + sha256 + " does not have the expected " +
                        std::to_string(size) + " bytes");
    }
    FW_ASSIGN(std::string actual, Sha256File(partial));
    if (actual != sha256) {
        ::unlink(partial.c_str());
        return Fail(Errc::kVerify, "hash-mismatch",
                    "downloaded image hashes to " + actual + ", expected " + sha256);
    }
    if (::rename(partial.c_str(), PathOf(sha256).c_str()) != 0) {
        return Fail(Errc::kIo, "io", "cannot move image " + sha256 + " into the cache");
    }
    FW_TRY(SyncParentDir(PathOf(sha256)));
    {
        std::lock_guard lock(mu_);
        Entry& e = entries_[sha256];
        e.size = size;
        Touch(e);
    }
    Evict(sha256);
    return {};
}

bool ContentCache::Pin(const std::string& sha256) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(sha256);
    if (it == entries_.end()) return false;
    ++it->second.pins;
    Touch(it->second);
    return true;
}

void ContentCache::Unpin(const std::string& sha256) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(sha256);
    if (it != entries_.end() && it->second.pins > 0) --it->second.pins;
}

std::uint64_t ContentCache::TotalBytes() {
    std::lock_guard lock(mu_);
    std::uint64_t total = 0;
    for (const auto& [sha, e] : entries_) total += e.size;
    return total;
}

std::map<std::string, std::uint64_t> ContentCache::Contents() {
    std::lock_guard lock(mu_);
    std::map<std::string, std::uint64_t> out;
    for (const auto& [sha, e] : entries_) out.emplace(sha, e.size);
    return out;
}

void ContentCache::Evict(const std::string& keep) {
    if (max_bytes_ == 0) return;
    std::lock_guard lock(mu_);
    std::uint64_t total = 0;
    for (const auto& [sha, e] : entries_) total += e.size;
    while (total > max_bytes_) {
        auto victim = entries_.end();
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->second.pins > 0 || it->first == keep) continue;
            if (victim == entries_.end() || it->second.last_used < victim->second.last_used) {
                victim = it;
            }
        }
        if (victim == entries_.end()) break;  // everything left is pinned
        ::unlink(PathOf(victim->first).c_str());
        total -= victim->second.size;
        entries_.erase(victim);
    }
}

}  // namespace fwchain::gateway
