#include "ledger/consensus/miner.hpp"

#include <cryptopp/sha.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace fwchain::ledger {

struct MidstateHasher::Impl {
    CryptoPP::SHA256 mid;
};

MidstateHasher::MidstateHasher(const BlockHeader& header) : impl_(std::make_unique<Impl>()) {
    const auto bytes = header.Serialize();
    // Hashing exactly two whole blocks leaves the object holding the compressed state and an
    // empty buffer: copying it is copying the midstate.
    impl_->mid.Update(bytes.data(), kMidstateSize);
}

MidstateHasher::~MidstateHasher() = default;

Hash256 MidstateHasher::HashWithNonce(std::uint64_t nonce) const {
    std::uint8_t tail[8];
    PutLe64(tail, nonce);
    CryptoPP::SHA256 h(impl_->mid);
    h.Update(tail, sizeof(tail));
    Hash256 out{};
    h.Final(out.data());
    return out;
}

namespace {

void LowerThreadPriority() {
    // On Linux PRIO_PROCESS with a thread id changes only that thread's nice value. Failure is
    // harmless (we would just mine at normal priority), so the result is not an error.
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    (void)setpriority(PRIO_PROCESS, tid, 19);
}

}  // namespace

std::optional<BlockHeader> MineHeader(const BlockHeader& templ, const MinerOptions& opts,
                                      const std::atomic<bool>& stop, MineStats* stats) {
    const unsigned threads = std::max(1u, opts.threads);
    std::atomic<bool> found{false};
    std::atomic<std::uint64_t> hashes{0};
    std::mutex mu;
    std::optional<BlockHeader> result;

    auto work = [&](unsigned index) {
        if (opts.low_priority) LowerThreadPriority();
        BlockHeader h = templ;
        std::uint64_t done = 0;
        for (std::uint64_t extra = opts.extra_nonce_base + index;; extra += threads) {
            h.extra_nonce = extra;
            MidstateHasher hasher(h);
            std::uint64_t nonce = 0;
            do {
                if ((nonce & 0xFFF) == 0 && (stop.load(std::memory_order_relaxed) ||
                                             found.load(std::memory_order_relaxed))) {
                    hashes += done;
                    return;
                }
                ++done;
                if (MeetsBits(hasher.HashWithNonce(nonce), h.bits)) {
                    h.nonce = nonce;
                    std::lock_guard<std::mutex> lock(mu);
                    if (!found.exchange(true)) result = h;
                    hashes += done;
                    return;
                }
            } while (++nonce != 0);
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
