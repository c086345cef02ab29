#pragma once
// Proof-of-work search. The header keeps the nonce in its last 8 bytes so the first 128 bytes
// (two SHA-256 blocks) are hashed once per extra_nonce and each nonce costs one compression of
// the final block (DESIGN.md §8: >= 2x a plain header hash).
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

// SHA-256 of a serialised header whose first 128 bytes are fixed: the midstate is computed once.
class MidstateHasher {
  public:
    explicit MidstateHasher(const BlockHeader& header);
    ~MidstateHasher();
    MidstateHasher(const MidstateHasher&) = delete;
    MidstateHasher& operator=(const MidstateHasher&) = delete;

    // Equals BlockHeader::Hash() of the header with this nonce.
    Hash256 HashWithNonce(std::uint64_t nonce) const;

    // The first nonce in [first, first + count) whose hash meets `bits`, or nullopt. Runs the
    // interleaved SHA-NI kernel where the CPU has it, else one compression per nonce. The range
    // must not wrap past 2^64.
    std::optional<std::uint64_t> Scan(std::uint64_t first, std::uint64_t count,
                                      std::uint32_t bits) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct MinerOptions {
    unsigned threads = 1;
    // A gateway is someone's router: miner threads run at the lowest CPU priority.
    bool low_priority = true;
    // Share of each miner thread's time spent hashing, 1..100: a thread that hashed for a slice
    // of CPU time rests for the rest of its period (someone's router, a CPU budget).
    unsigned duty_percent = 100;
    // Thread i starts at extra_nonce_base + i, so threads never search the same space.
    std::uint64_t extra_nonce_base = 0;
};

struct MineStats {
    std::uint64_t hashes = 0;
};

// Searches for a nonce (and extra_nonce) making `templ` meet templ.bits. Returns the solved
// header, or nullopt once `stop` becomes true (checked every few thousand hashes).
std::optional<BlockHeader> MineHeader(const BlockHeader& templ, const MinerOptions& opts,
                                      const std::atomic<bool>& stop, MineStats* stats = nullptr);

}  // namespace fwchain::ledger
