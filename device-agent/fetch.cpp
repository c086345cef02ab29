#include "device-agent/fetch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"

namespace fwchain::device {

namespace {

using Clock = std::chrono::steady_clock;

// Closes the slot file descriptor on every path.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

struct Attempt {
    bool ok = false;
    bool permanent = false;  // retrying cannot help (4xx, endless data, local disk)
    Error error;
};

Attempt Permanent(std::string reason, std::string message) {
    return Attempt{false, true, Error{Errc::kNetwork, std::move(reason), std::move(message)}};
}
Attempt Retryable(std::string reason, std::string message) {
    return Attempt{false, false, Error{Errc::kNetwork, std::move(reason), std::move(message)}};
}

bool WriteAll(int fd, const char* data, std::size_t n, std::uint64_t offset) {
    while (n > 0) {
        ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
        offset += static_cast<std::uint64_t>(w);
    }
    return true;
}

// "bytes START-END/TOTAL" -> START.
std::optional<std::uint64_t> ContentRangeStart(const std::string& v) {
    const std::string prefix = "bytes ";
    if (v.rfind(prefix, 0) != 0) return std::nullopt;
    std::uint64_t start = 0;
    const char* b = v.data() + prefix.size();
    const char* e = v.data() + v.size();
    auto [ptr, ec] = std::from_chars(b, e, start);
    if (ec != std::errc() || ptr == b || ptr == e || *ptr != '-') return std::nullopt;
    return start;
}

class ProgressBar {
  public:
    ProgressBar(bool enabled, std::uint64_t total)
        : enabled_(enabled && ::isatty(STDERR_FILENO) == 1), total_(total) {}
    ~ProgressBar() {
        if (drawn_) std::fputc('\n', stderr);
    }
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    void Update(std::uint64_t done) {
        if (!enabled_ || total_ == 0) return;
        const auto percent = static_cast<int>(done * 100 / total_);
        if (percent == last_percent_) return;
        last_percent_ = percent;
        drawn_ = true;
        constexpr int kWidth = 40;
        const int filled = percent * kWidth / 100;
        std::fprintf(stderr, "\r[%s%s] %3d%% %llu/%llu KiB", std::string(filled, '#').c_str(),
                     std::string(kWidth - filled, ' ').c_str(), percent,
                     static_cast<unsigned long long>(done >> 10),
                     static_cast<unsigned long long>(total_ >> 10));
        std::fflush(stderr);
    }

  private:
    bool enabled_;
    std::uint64_t total_;
    int last_percent_ = -1;
    bool drawn_ = false;
};

constexpr std::uint64_t kRawSyncEvery = 4 << 20;

std::uint64_t ReadProgress(const std::string& path) {
    auto text = ReadFile(path, 64);
    if (!text) return 0;
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    return ec == std::errc() && ptr != text->data() ? v : 0;
}

bool WriteProgress(const std::string& path, std::uint64_t v) {
    return static_cast<bool>(WriteFileAtomic(path, std::to_string(v) + "\n", 0644));
}

// Sets the length of the image in the slot to `n` (a prefix): truncates a file, records the
// progress of a raw slot.
bool SetLength(int fd, const FetchRequest& req, std::uint64_t n) {
    if (req.raw) return ::fdatasync(fd) == 0 && WriteProgress(req.progress_path, n);
    return ::ftruncate(fd, static_cast<off_t>(n)) == 0;
}

Attempt FetchOnce(const http::Url& url, const FetchRequest& req, const FetchOptions& opts) {
    Fd fd(::open(req.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (fd.get() < 0) return Permanent("slot-io", "cannot open " + req.path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Permanent("slot-io", "cannot stat " + req.path);
    auto offset =
        req.raw ? ReadProgress(req.progress_path) : static_cast<std::uint64_t>(st.st_size);
    if (offset > req.size) {
        // Longer than the target: not a prefix of it. Start over.
        if (!SetLength(fd.get(), req, 0)) return Permanent("slot-io", "cannot truncate slot");
        offset = 0;
    }
    if (offset == req.size) return Attempt{true, false, {}};

    http::ClientOptions copts;
    copts.connect_timeout_s = opts.connect_timeout_s;
    copts.read_timeout_s = opts.stall_timeout_s;
    http::Client client(url, copts);

    http::Headers headers;
    if (offset > 0) headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");

    std::uint64_t pos = offset;
    int status = 0;
    bool endless = false;
    bool bad_range = false;
    bool io_error = false;
    bool too_slow = false;
    bool power_loss = false;
    auto last_progress = Clock::now();
    // Minimum-rate window: bytes received since window_start.
    auto window_start = last_progress;
    std::uint64_t window_bytes = 0;
    std::uint64_t synced = offset;  // raw slots: progress recorded up to here
    const auto window = std::chrono::seconds(std::max(opts.min_rate_window_s, 1));
    ProgressBar bar(opts.progress, req.size);
    bar.Update(pos);

    const std::string path = "/v1/images/" + req.sha256;
    auto result = client.GetStream(
        path, headers,
        [&](const http::Reply& res) {
            status = res.status;
            if (res.status == 206) {
                auto start = ContentRangeStart(res.Header("Content-Range").value_or(""));
                if (!start || *start != offset) {
                    bad_range = true;
                    return false;
                }
            } else if (res.status == 200) {
                // The server ignored the Range: the body starts at byte 0.
                pos = 0;
                synced = 0;
            } else {
                return false;
            }
            if (auto cl = res.Header("Content-Length")) {
                std::uint64_t len = 0;
                const std::string v = *cl;
                auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
                if (ec != std::errc() || ptr != v.data() + v.size() || len > req.size - pos) {
                    endless = true;
                    return false;
                }
            }
            return true;
        },
        [&](const char* data, std::size_t n) {
            if (n > req.size - pos) {
                endless = true;
                return false;
            }
            if (!WriteAll(fd.get(), data, n, pos)) {
                io_error = true;
                return false;
            }
            pos += n;
            if (req.raw && pos - synced >= kRawSyncEvery) {
                // Record progress only for bytes known to be on the medium.
                if (::fdatasync(fd.get()) != 0 || !WriteProgress(req.progress_path, pos)) {
                    io_error = true;
                    return false;
                }
                synced = pos;
            }
            last_progress = Clock::now();
            bar.Update(pos);
            if (opts.power_loss && opts.power_loss(pos, req.size)) {
                power_loss = true;
                return false;
            }
            window_bytes += n;
            if (opts.min_rate > 0 && last_progress - window_start >= window) {
                const auto secs =
                    std::chrono::duration_cast<std::chrono::seconds>(last_progress - window_start)
                        .count();
                if (window_bytes < opts.min_rate * static_cast<std::uint64_t>(secs)) {
                    too_slow = true;
                    return false;
                }
                window_start = last_progress;
                window_bytes = 0;
            }
            return true;
        });

    if (endless) {
        return Permanent("endless-data", "the gateway sent more than the manifest size (" +
                                             std::to_string(req.size) + " bytes)");
    }
    if (io_error) return Permanent("slot-io", "cannot write " + req.path);
    if (power_loss) return Permanent("power-loss", "power lost (injected) during the download");
    if (bad_range) {
        if (!SetLength(fd.get(), req, 0)) return Permanent("slot-io", "cannot truncate slot");
        return Retryable("download-failed", "the gateway answered a different range");
    }
    if (status == 200 && pos < offset && !req.raw) {
        // Restarted from zero but ended early: drop the stale tail of the old prefix.
        if (::ftruncate(fd.get(), static_cast<off_t>(pos)) != 0) {
            return Permanent("slot-io", "cannot truncate slot");
        }
    }
    if (::fdatasync(fd.get()) != 0) return Permanent("slot-io", "cannot sync " + req.path);
    if (req.raw && pos != synced && !WriteProgress(req.progress_path, pos)) {
        return Permanent("slot-io", "cannot record the download progress");
    }
    if (too_slow) {
        return Retryable("slow-retrieval", "the gateway sent fewer than " +
                                               std::to_string(opts.min_rate) + " bytes/s over " +
                                               std::to_string(opts.min_rate_window_s) + " s");
    }

    if (!result) {
        if (status != 0 && status != 200 && status != 206) {
            // Response handler refused the status.
            if (status == 416) {
                if (!SetLength(fd.get(), req, 0)) return Permanent("slot-io", "truncate failed");
                return Retryable("download-failed", "range not satisfiable; restarting");
            }
            const std::string msg = "gateway answered HTTP " + std::to_string(status);
            if (status >= 400 && status < 500) return Permanent("download-failed", msg);
            return Retryable("download-failed", msg);
        }
        // httplib reports a read timeout as a plain read error: tell it from a reset by how
        // long the transfer had been idle (with slack for the timer's granularity).
        const auto idle = Clock::now() - last_progress;
        if (result.error().reason == "read-failed" &&
            idle >= std::chrono::seconds(opts.stall_timeout_s) * 9 / 10) {
            return Retryable("stall-timeout",
                             "no data for " + std::to_string(opts.stall_timeout_s) + " s");
        }
        return Retryable("download-failed", "transport error: " + result.error().message);
    }
    if (pos != req.size) {
        return Retryable("download-failed", "connection ended after " + std::to_string(pos) +
                                                " of " + std::to_string(req.size) + " bytes");
    }
    return Attempt{true, false, {}};
}

}  // namespace

bool IsTransientDownloadFailure(const std::string& reason) {
    return reason == "download-failed" || reason == "stall-timeout" || reason == "slow-retrieval";
}

std::uint64_t SlotLength(const std::string& path, bool raw, const std::string& progress_path) {
    return raw ? ReadProgress(progress_path) : FileSize(path);
}

Status ResetSlot(const std::string& path, bool raw, const std::string& progress_path) {
    if (!raw) return TruncateFile(path);
    if (!WriteProgress(progress_path, 0)) {
        return Fail(Errc::kIo, "slot-io", "cannot reset " + progress_path);
    }
    return {};
}

std::uint64_t FileSize(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.st_size);
}

Status TruncateFile(const std::string& path) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
        return Fail(Errc::kIo, "slot-io", "cannot truncate " + path + ": " + std::strerror(errno));
    }
    return {};
}

Status FetchImage(const FetchRequest& req, const FetchOptions& opts) {
    FW_ASSIGN(http::Url url, http::ParseUrl(req.gateway_url));
    std::uint64_t seed = 0;
    RandomBytes(reinterpret_cast<std::uint8_t*>(&seed), sizeof seed);
    std::mt19937_64 rng(seed);

    auto backoff = opts.backoff_initial;
    Error last{Errc::kNetwork, "download-failed", "no attempt made"};
    const int attempts = std::max(opts.max_attempts, 1);
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        Attempt a = FetchOnce(url, req, opts);
        if (a.ok) return {};
        spdlog::warn("download attempt {}/{}: {}", attempt, attempts, a.error.ToString());
        if (a.permanent) return Fail(std::move(a.error));
        last = std::move(a.error);
        if (attempt == attempts) break;
        // Full jitter in [backoff/2, backoff]: a fleet that lost its gateway at once must not
        // come back in lockstep.
        const auto half = backoff.count() / 2;
        std::uniform_int_distribution<long long> dist(half,
                                                      std::max<long long>(half, backoff.count()));
        std::this_thread::sleep_for(std::chrono::milliseconds(dist(rng)));
        backoff = std::min(backoff * 2, opts.backoff_max);
    }
    return Fail(std::move(last));
}

}  // namespace fwchain::device
