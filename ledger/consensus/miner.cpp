#include "ledger/consensus/miner.hpp"

#include <cryptopp/sha.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "ledger/consensus/sha256_ni.hpp"

namespace fwchain::ledger {

namespace {

std::uint32_t Be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

}  // namespace

// The raw SHA-256 compression function (Crypto++'s static Transform, which dispatches to SHA-NI
// or SSE where the CPU has them) on the 8-word state: no object copies, buffering or padding
// logic per nonce, only one compression of a block whose padding is precomputed.
struct MidstateHasher::Impl {
    alignas(16) CryptoPP::word32 state[8];
};

MidstateHasher::MidstateHasher(const BlockHeader& header) : impl_(std::make_unique<Impl>()) {
    const auto bytes = header.Serialize();
    CryptoPP::SHA256::InitState(impl_->state);
    alignas(16) CryptoPP::word32 block[16];
    for (std::size_t b = 0; b < kMidstateSize; b += 64) {
        for (std::size_t i = 0; i < 16; ++i) block[i] = Be32(bytes.data() + b + 4 * i);
        CryptoPP::SHA256::Transform(impl_->state, block);
    }
}

MidstateHasher::~MidstateHasher() = default;

Hash256 MidstateHasher::HashWithNonce(std::uint64_t nonce) const {
    std::uint8_t tail[8];
    PutLe64(tail, nonce);
    // Final block: the 8 nonce bytes, the 0x80 pad byte, zeros, the message length in bits.
    alignas(16) CryptoPP::word32 block[16] = {};
    block[0] = Be32(tail);
    block[1] = Be32(tail + 4);
    block[2] = 0x80000000u;
    block[15] = static_cast<CryptoPP::word32>(kHeaderSize * 8);
    alignas(16) CryptoPP::word32 st[8];
    std::copy(impl_->state, impl_->state + 8, st);
    CryptoPP::SHA256::Transform(st, block);
    Hash256 out{};
    for (std::size_t i = 0; i < 8; ++i) {
        out[4 * i] = static_cast<std::uint8_t>(st[i] >> 24);
        out[4 * i + 1] = static_cast<std::uint8_t>(st[i] >> 16);
        out[4 * i + 2] = static_cast<std::uint8_t>(st[i] >> 8);
        out[4 * i + 3] = static_cast<std::uint8_t>(st[i]);
    }
    return out;
}

std::optional<std::uint64_t> MidstateHasher::Scan(std::uint64_t first, std::uint64_t count,
                                                  std::uint32_t bits) const {
    if (shani::Available()) {
        std::uint64_t found = 0;
        if (shani::ScanNonces(impl_->state, first, count, bits, &found)) return found;
        return std::nullopt;
    }
    for (std::uint64_t i = 0; i < count; ++i) {
        if (MeetsBits(HashWithNonce(first + i), bits)) return first + i;
    }
    return std::nullopt;
}

namespace {

void LowerThreadPriority() {
    // On Linux PRIO_PROCESS with a thread id changes only that thread's nice value. Failure is
    // harmless (we would just mine at normal priority), so the result is not an error.
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    (void)setpriority(PRIO_PROCESS, tid, 19);
}

}  // namespace

namespace {

std::chrono::nanoseconds ThreadCpuTime() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Keeps a thread's hashing to `duty` percent of its time: after each slice of CPU time spent
// hashing it rests busy * (100 - duty) / duty, in short naps so a stop is seen quickly.
class DutyCycle {
  public:
    explicit DutyCycle(unsigned duty) : duty_(duty), start_(ThreadCpuTime()) {}

    void Rest(const std::atomic<bool>& stop, const std::atomic<bool>& found) {
        if (duty_ >= 100) return;
        const auto busy = ThreadCpuTime() - start_;
        if (busy < kSlice) return;
        auto rest = busy * (100 - duty_) / duty_;
        while (rest.count() > 0 && !stop.load(std::memory_order_relaxed) &&
               !found.load(std::memory_order_relaxed)) {
            const auto nap = std::min<std::chrono::nanoseconds>(rest, kNap);
            std::this_thread::sleep_for(nap);  // throttling, not synchronisation
            rest -= nap;
        }
        start_ = ThreadCpuTime();
    }

  private:
    static constexpr std::chrono::nanoseconds kSlice = std::chrono::milliseconds(20);
    static constexpr std::chrono::nanoseconds kNap = std::chrono::milliseconds(5);
    unsigned duty_;
    std::chrono::nanoseconds start_;
};

}  // namespace

std::optional<BlockHeader> MineHeader(const BlockHeader& templ, const MinerOptions& opts,
                                      const std::atomic<bool>& stop, MineStats* stats) {
    const unsigned threads = std::max(1u, opts.threads);
    std::atomic<bool> found{false};
    std::atomic<std::uint64_t> hashes{0};
    std::mutex mu;
    std::optional<BlockHeader> result;

    const unsigned duty = std::clamp(opts.duty_percent, 1u, 100u);
    auto work = [&](unsigned index) {
        if (opts.low_priority) LowerThreadPriority();
        BlockHeader h = templ;
        std::uint64_t done = 0;
        DutyCycle cycle(duty);
        for (std::uint64_t extra = opts.extra_nonce_base + index;; extra += threads) {
            h.extra_nonce = extra;
            MidstateHasher hasher(h);
            // The nonce space (2^64) is scanned in chunks; between chunks the thread checks
            // whether it should stop. It is never exhausted in practice.
            constexpr std::uint64_t kChunk = 4096;
            for (std::uint64_t nonce = 0; nonce <= ~std::uint64_t{0} - kChunk; nonce += kChunk) {
                if (stop.load(std::memory_order_relaxed) || found.load(std::memory_order_relaxed)) {
                    hashes += done;
                    return;
                }
                cycle.Rest(stop, found);
                const auto hit = hasher.Scan(nonce, kChunk, h.bits);
                if (!hit) {
                    done += kChunk;
                    continue;
                }
                done += *hit - nonce + 1;
                h.nonce = *hit;
                std::lock_guard<std::mutex> lock(mu);
                if (!found.exchange(true)) result = h;
                hashes += done;
                return;
            }
        }
    };

    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back(work, i);
    for (auto& t : pool) t.join();
    if (stats != nullptr) stats->hashes = hashes.load();
    return result;
}

}  // namespace fwchain::ledger
