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

Status Remove(const std::string& path) {
    if (::unlink(path.c_str()) != 0) {
        return Fail(Errc::kIo, "report-queue", "cannot remove " + path);
    }
    return SyncParentDir(path);
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
    tx.body = Json{{"product", info.product},
                   {"sequence", info.sequence},
                   {"previous_sequence", info.previous_sequence},
                   {"gateway", info.gateway},
                   {"reason", info.reason}};
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

FlushResult ReportQueue::Flush(const std::string& gateway_url, int timeout_s) {
    FlushResult r;
    auto files = List();
    if (!files) {
        r.error = files.error().ToString();
        return r;
    }
    auto url = http::ParseUrl(gateway_url);
    if (!url) {
        r.error = url.error().ToString();
        r.kept = files->size();
        return r;
    }
    http::ClientOptions opts;
    opts.connect_timeout_s = timeout_s;
    opts.read_timeout_s = timeout_s;
    opts.write_timeout_s = timeout_s;
    http::Client client(*url, opts);

    for (std::size_t i = 0; i < files->size(); ++i) {
        const std::string& path = (*files)[i];
        auto body = ReadFile(path, kMaxTxSize + 16);
        if (!body) {
            r.error = body.error().ToString();
            r.kept = files->size() - i;
            return r;
        }
        auto res = client.Raw().Post(url->base_path + "/v1/report", *body, "application/json");
        const int status = res ? res->status : 0;
        const bool delivered = (status >= 200 && status < 300) || status == 409;
        if (delivered || status == 400) {
            if (status == 400) {
                spdlog::warn("gateway refused report {}: {}", path, res->body);
                ++r.dropped;
            } else {
                ++r.sent;
            }
            if (auto removed = Remove(path); !removed) {
                r.error = removed.error().ToString();
                r.kept = files->size() - i - 1;
                return r;
            }
            continue;
        }
        r.error = res ? "gateway answered HTTP " + std::to_string(status) + ": " + res->body
                      : std::string("gateway unreachable: ") + httplib::to_string(res.error());
        r.kept = files->size() - i;
        return r;
    }
    return r;
}

}  // namespace fwchain::device
