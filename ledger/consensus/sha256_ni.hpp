#pragma once
// SHA-256 compression with the x86 SHA extensions (SHA-NI), for the miner's hot loop only.
// Everything here is compiled for the SHA/SSE4.1 target by function attribute, so the rest of
// the build stays generic; callers must check ShaNiAvailable() first.
#include <cstdint>

namespace fwchain::ledger::shani {

// True when this CPU has SHA-NI, SSSE3 and SSE4.1 (cpuid), cached after the first call.
bool Available();

// Compresses one 64-byte block (16 words, already big-endian decoded) into `state`, exactly as
// SHA-256's compression function (FIPS 180-4 §6.2.2). Reference for tests.
void Compress(std::uint32_t state[8], const std::uint32_t block[16]);

// The miner's kernel: scans nonces [first, first + count) of a header whose first 128 bytes are
// hashed into `midstate`, the last 8 bytes being the little-endian nonce. Two nonces run
// interleaved so the SHA unit's latency is hidden. Returns true and sets *found to the first
// nonce whose hash has `bits` leading zero bits; false when none in the range does.
bool ScanNonces(const std::uint32_t midstate[8], std::uint64_t first, std::uint64_t count,
                std::uint32_t bits, std::uint64_t* found);

}  // namespace fwchain::ledger::shani
