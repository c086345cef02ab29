#include "gateway/sync/trust_store.hpp"

#include <filesystem>

#include "common/adapters/log.hpp"
#include "common/core/fs.hpp"
#include "common/core/names.hpp"

namespace fwchain::gateway {

namespace {
std::string RootPath(const std::string& dir, std::uint64_t version) {
    return dir + "/roots/" + std::to_string(version) + ".json";
}
Expected<Envelope> LoadEnvelope(const std::string& path) {
    FW_ASSIGN(Json j, LoadJsonFile(path));
    return ParseEnvelope(j);
}
}  // namespace

Expected<std::unique_ptr<TrustStore>> TrustStore::Open(const std::string& data_dir,
                                                       const std::string& initial_root_file,
                                                       std::int64_t now) {
    std::unique_ptr<TrustStore> store(new TrustStore(data_dir + "/trusted"));
    FW_TRY(MakeDirs(store->dir_ + "/roots"));
    FW_TRY(MakeDirs(store->dir_ + "/manifests"));
    FW_TRY(store->LoadRoots(initial_root_file, now));

    if (auto ts_env = LoadEnvelope(store->dir_ + "/timestamp.json")) {
        // Re-verified with an `issued`-only expiry bound: an expired stored timestamp still
        // marks what we accepted (anti-rollback), and a fresh one replaces it at the next poll.
        auto ts = VerifyTimestamp(store->root_, *ts_env, INT64_MIN, AcceptedMark{});
        if (ts) {
            store->timestamp_ = *ts;
            store->has_timestamp_ = true;
        }
    }
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(store->dir_ + "/manifests", ec)) {
        auto env = LoadEnvelope(f.path().string());
        if (!env) continue;
        auto r = ParseRelease(*env);
        if (r) store->releases_[r->product][r->sequence] = *r;
    }
    return store;
}

Status TrustStore::LoadRoots(const std::string& initial_root_file, std::int64_t now) {
    auto first = LoadEnvelope(RootPath(dir_, 1));
    if (!first) {
        if (initial_root_file.empty()) {
            return Fail(Errc::kNotFound, "no-root",
                        "no trusted root yet: pass --root FILE (the vendor's root.json) once");
        }
        // Every refusal names the file: "field signed is missing" alone does not say which.
        auto env = LoadEnvelope(initial_root_file);
        if (!env) return Fail(Context(env.error(), "--root " + initial_root_file));
        auto root = VerifyInitialRoot(*env, now);
        if (!root) return Fail(Context(root.error(), "--root " + initial_root_file));
        FW_TRY(WriteFileAtomic(RootPath(dir_, root->version), env->Serialize()));
        root_ = *root;
        roots_ = {*env};
        return {};
    }
    FW_ASSIGN(Root root, ParseRoot(*first));
    root_ = root;
    roots_ = {*first};
    std::vector<Envelope> chain;
    for (std::uint64_t v = root.version + 1;; ++v) {
        auto env = LoadEnvelope(RootPath(dir_, v));
        if (!env) break;
        chain.push_back(*env);
    }
    // Expiry is not a reason to forget roots we already verified.
    FW_ASSIGN(Root newest, VerifyRootChain(root_, chain, INT64_MIN));
    root_ = newest;
    roots_.insert(roots_.end(), chain.begin(), chain.end());
    return {};
}

std::uint64_t TrustStore::LatestKnown(const std::string& product) const {
    auto it = releases_.find(product);
    return it == releases_.end() || it->second.empty() ? 0 : it->second.rbegin()->first;
}

Status TrustStore::AcceptRoots(const std::vector<Envelope>& newer, std::int64_t now) {
    FW_ASSIGN(Root next, VerifyRootChain(root_, newer, now));
    for (const auto& env : newer) {
        auto r = ParseRoot(env);
        if (!r || r->version <= root_.version) continue;
        FW_TRY(WriteFileAtomic(RootPath(dir_, r->version), env.Serialize()));
        roots_.push_back(env);
    }
    if (next.version != root_.version) {
        spdlog::info("trusted root is now v{}", next.version);
    }
    root_ = next;
    return {};
}

Expected<bool> TrustStore::AcceptTimestamp(const Envelope& env, std::int64_t now) {
    AcceptedMark mark;
    if (has_timestamp_) mark = AcceptedMark{timestamp_.version, timestamp_.issued};
    FW_ASSIGN(Timestamp ts, VerifyTimestamp(root_, env, now, mark));
    if (has_timestamp_ && ts.version == timestamp_.version) return false;
    FW_TRY(WriteFileAtomic(dir_ + "/timestamp.json", env.Serialize()));
    timestamp_ = ts;
    has_timestamp_ = true;
    return true;
}

Expected<Release> TrustStore::AcceptRelease(const Envelope& env, std::int64_t now) {
    if (!has_timestamp_) return Fail(Errc::kVerify, "no-timestamp", "no timestamp accepted yet");
    FW_ASSIGN(Release r, VerifyReleaseForRelay(root_, env, now, timestamp_));
    // The product names a file below; even a vendor-signed name must not carry path tricks.
    if (!ValidProductName(r.product)) {
        return Fail(Errc::kInvalid, "bad-product",
                    "product name \"" + r.product + "\" is not " + std::string(kProductNameRule));
    }
    FW_TRY(WriteFileAtomic(
        dir_ + "/manifests/" + r.product + "-" + std::to_string(r.sequence) + ".json",
        env.Serialize()));
    releases_[r.product][r.sequence] = r;
    return r;
}

}  // namespace fwchain::gateway
