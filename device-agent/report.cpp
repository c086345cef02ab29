#include "device-agent/report.hpp"

#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"
#include "common/core/fs.hpp"
#include "common/core/tx_bodies.hpp"

namespace fwchain::device {

namespace {

// Report file name -> nonce, for files this queue wrote ("00000042.json").
std::optional<std::uint64_t> NonceOf(const std::string& name) {
    const std::string suffix = ".json";
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    const char* b = name.data();
    const char* e = name.data() + name.size() - suffix.size();
    auto [ptr, ec] = std::from_chars(b, e, n);
    if (ec != std::errc() || ptr != e) return std::nullopt;
    return n;
}

std::string FileName(std::uint64_t nonce) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08llu.json", static_cast<unsigned long long>(nonce));
    return buf;
}

std::string Clip(std::string s, std::size_t n) {
    if (s.size() > n) s.resize(n);
    return s;
}

Status Remove(const std::string& path) {
    if (::unlink(path.c_str()) != 0) {
        return Fail(Errc::kIo, "report-queue", "cannot remove " + path);
    }
    return SyncParentDir(path);
}

Expected<Tx> LoadReport(const std::string& path) {
    FW_ASSIGN(std::string text, ReadFile(path, kMaxTxSize + 16));
    FW_ASSIGN(Json j, ParseJson(text));
    return ParseTx(j);
}

Status WriteAndRemove(const std::string& fresh_path, const Tx& fresh, const std::string& old) {
    FW_TRY(WriteFileAtomic(fresh_path, Canonical(fresh.ToJson()) + "\n", 0644));
    return Remove(old);
}

}  // namespace

Tx MakeUpdateReport(const SigningKey& key, const std::string& device_id, const ReportInfo& info) {
    Tx tx;
    tx.type = txtype::kUpdate;
    tx.recipient = device_id;
    tx.ver = info.version;
    tx.verifier = info.sha256;
    tx.state = info.state;
    tx.time = info.time;
    tx.nonce = info.nonce;
    UpdateTxBody body;
    body.product = info.product;
    body.sequence = info.sequence;
    body.previous_sequence = info.previous_sequence;
    body.gateway = info.gateway;
    body.reason = info.reason;
    if (info.rejected) {
        // fwchain::RejectedManifest (the wire type), not this module's device::RejectedManifest.
        body.rejected = fwchain::RejectedManifest{info.rejected->version, info.rejected->sha256,
                                                  info.rejected->sequence};
    }
    tx.body = body.ToJson();
    tx.SignWith(key);
    return tx;
}

Status ReportQueue::Enqueue(const Tx& tx) {
    FW_TRY(MakeDirs(dir_, 0755));
    FW_TRY(WriteFileAtomic(dir_ + "/" + FileName(tx.nonce), Canonical(tx.ToJson()) + "\n", 0644));
    FW_ASSIGN(auto files, List());
    while (files.size() > kMaxQueued) {
        spdlog::warn("report queue full: dropping {}", files.front());
        FW_TRY(Remove(files.front()));
        files.erase(files.begin());
    }
    return {};
}

Expected<std::vector<std::string>> ReportQueue::List() const {
    std::vector<std::pair<std::uint64_t, std::string>> found;
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) {
        if (errno == ENOENT) return std::vector<std::string>{};
        return Fail(Errc::kIo, "report-queue", "cannot list " + dir_);
    }
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (auto n = NonceOf(name)) found.emplace_back(*n, dir_ + "/" + name);
    }
    ::closedir(d);
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    out.reserve(found.size());
    for (auto& f : found) out.push_back(std::move(f.second));
    return out;
}

FlushResult ReportQueue::Flush(const std::string& gateway_url, const ExchangeLimits& limits,
                               const Resigner& resign) {
    FlushResult r;
    auto listed = List();
    if (!listed) {
        r.error = listed.error().ToString();
        return r;
    }
    std::vector<std::string> files = std::move(*listed);
    auto url = http::ParseUrl(gateway_url);
    if (!url) {
        r.error = url.error().ToString();
        r.kept = files.size();
        return r;
    }
    // A gateway (or ledger) that keeps answering stale-counter must not burn counters forever.
    constexpr int kMaxResyncs = 3;
    // Far below 2^64: a hostile answer must not make the counter wrap.
    constexpr std::uint64_t kMaxCounter = std::uint64_t{1} << 62;
    int resyncs = 0;

    for (std::size_t i = 0; i < files.size();) {
        const std::string& path = files[i];
        auto body = ReadFile(path, kMaxTxSize + 16);
        if (!body) {
            r.error = body.error().ToString();
            r.kept = files.size() - i;
            return r;
        }
        auto answer = BoundedPost(*url, "/v1/report", *body, limits);
        if (!answer) {
            r.error = answer.error().ToString();
            r.kept = files.size() - i;
            return r;
        }
        const int status = answer->status;
        std::string error;
        std::optional<std::uint64_t> ledger_counter;
        if (status == 409) {
            if (auto j = ParseJson(answer->body, 64 << 10); j && j->is_object()) {
                if (auto e = GetString(*j, "error")) error = *e;
                if (auto c = GetUint(*j, "last_counter")) ledger_counter = *c;
            }
        }
        if (status == 409 && error == "stale-counter") {
            if (!resign || !ledger_counter || *ledger_counter >= kMaxCounter ||
                resyncs >= kMaxResyncs) {
                r.error =
                    "gateway says the report counter is behind the ledger's, and it cannot "
                    "be resynchronised now: " +
                    Clip(answer->body, 256);
                r.kept = files.size() - i;
                return r;
            }
            ++resyncs;
            spdlog::warn("report counter behind the ledger's ({}): re-signing {} queued report(s)",
                         *ledger_counter, files.size() - i);
            // Re-sign this report and every later one, in order, so their order is kept.
            for (std::size_t k = i; k < files.size(); ++k) {
                auto old_tx = LoadReport(files[k]);
                if (!old_tx) {
                    r.error = "cannot re-sign " + files[k] + ": " + old_tx.error().ToString();
                    r.kept = files.size() - i;
                    return r;
                }
                auto fresh = resign(*old_tx, *ledger_counter);
                if (!fresh) {
                    r.error = "cannot re-sign " + files[k] + ": " + fresh.error().ToString();
                    r.kept = files.size() - i;
                    return r;
                }
                // The new file first: a power loss in between leaves both, never neither.
                const std::string fresh_path = dir_ + "/" + FileName(fresh->nonce);
                auto removed = WriteAndRemove(fresh_path, *fresh, files[k]);
                if (!removed) {
                    r.error = removed.error().ToString();
                    r.kept = files.size() - i;
                    return r;
                }
                files[k] = fresh_path;
                ++r.resigned;
            }
            continue;  // send files[i] again, now re-signed
        }
        // 2xx: relayed. 409 "duplicate" (or a 409 of an older gateway): the ledger holds this
        // very tx already. 400: malformed, can never be accepted.
        const bool delivered = (status >= 200 && status < 300) || status == 409;
        if (delivered || status == 400) {
            if (status == 400) {
                spdlog::warn("gateway refused report {}: {}", path, Clip(answer->body, 256));
                ++r.dropped;
            } else {
                ++r.sent;
            }
            if (auto removed = Remove(path); !removed) {
                r.error = removed.error().ToString();
                r.kept = files.size() - i - 1;
                return r;
            }
            ++i;
            continue;
        }
        r.error =
            "gateway answered HTTP " + std::to_string(status) + ": " + Clip(answer->body, 256);
        r.kept = files.size() - i;
        return r;
    }
    return r;
}

}  // namespace fwchain::device
