#include "ledger/consensus/sha256_ni.hpp"

#include "ledger/primitives/block.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define FWCHAIN_HAVE_X86 1
#endif

namespace fwchain::ledger::shani {

#if FWCHAIN_HAVE_X86

namespace {

#define FWCHAIN_SHANI __attribute__((target("sha,ssse3,sse4.1")))

alignas(16) constexpr std::uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// The SHA-NI round instructions keep the state as two vectors, ABEF and CDGH.
struct Lanes {
    __m128i abef;
    __m128i cdgh;
};

FWCHAIN_SHANI inline Lanes ToLanes(const std::uint32_t s[8]) {
    __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 4));
    const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    return {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
}

FWCHAIN_SHANI inline void FromLanes(const Lanes& l, std::uint32_t s[8]) {
    const __m128i feba = _mm_shuffle_epi32(l.abef, 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(l.cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(s), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(s + 4), _mm_alignr_epi8(dchg, feba, 8));
}

// Schedule words 4g..4g+3 from the previous sixteen, kept in a ring of four vectors.
FWCHAIN_SHANI inline void Schedule(__m128i w[4], int g) {
    __m128i t = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
    t = _mm_add_epi32(t, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
    w[g & 3] = _mm_sha256msg2_epu32(t, w[(g + 3) & 3]);
}

FWCHAIN_SHANI inline void Rounds(Lanes& l, __m128i w, int g) {
    __m128i m = _mm_add_epi32(w, _mm_load_si128(reinterpret_cast<const __m128i*>(kK + 4 * g)));
    l.cdgh = _mm_sha256rnds2_epu32(l.cdgh, l.abef, m);
    m = _mm_shuffle_epi32(m, 0x0E);
    l.abef = _mm_sha256rnds2_epu32(l.abef, l.cdgh, m);
}

FWCHAIN_SHANI inline __m128i LoadWords(const std::uint32_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

FWCHAIN_SHANI inline std::uint32_t Bswap(std::uint32_t v) { return __builtin_bswap32(v); }

// True when a hash whose first word is `a` may have `bits` leading zeros; the full check on the
// hash bytes follows only for these rare candidates.
inline bool MayMeet(std::uint32_t a, std::uint32_t bits) {
    if (bits == 0) return true;
    if (bits >= 32) return a == 0;
    return (a >> (32 - bits)) == 0;
}

FWCHAIN_SHANI bool Candidate(const Lanes& l, std::uint32_t bits) {
    std::uint32_t s[8];
    FromLanes(l, s);
    Hash256 h{};
    for (int i = 0; i < 8; ++i) {
        h[static_cast<std::size_t>(4 * i)] = static_cast<std::uint8_t>(s[i] >> 24);
        h[static_cast<std::size_t>(4 * i + 1)] = static_cast<std::uint8_t>(s[i] >> 16);
        h[static_cast<std::size_t>(4 * i + 2)] = static_cast<std::uint8_t>(s[i] >> 8);
        h[static_cast<std::size_t>(4 * i + 3)] = static_cast<std::uint8_t>(s[i]);
    }
    return MeetsBits(h, bits);
}

}  // namespace

bool Available() {
    static const bool available = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
        const bool ssse3 = (c & bit_SSSE3) != 0;
        const bool sse41 = (c & bit_SSE4_1) != 0;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
        return ssse3 && sse41 && (b & bit_SHA) != 0;
    }();
    return available;
}

FWCHAIN_SHANI void Compress(std::uint32_t state[8], const std::uint32_t block[16]) {
    Lanes l = ToLanes(state);
    const Lanes start = l;
    __m128i w[4] = {LoadWords(block), LoadWords(block + 4), LoadWords(block + 8),
                    LoadWords(block + 12)};
    for (int g = 0; g < 16; ++g) {
        if (g >= 4) Schedule(w, g);
        Rounds(l, w[g & 3], g);
    }
    l.abef = _mm_add_epi32(l.abef, start.abef);
    l.cdgh = _mm_add_epi32(l.cdgh, start.cdgh);
    FromLanes(l, state);
}

FWCHAIN_SHANI bool ScanNonces(const std::uint32_t midstate[8], std::uint64_t first,
                              std::uint64_t count, std::uint32_t bits, std::uint64_t* found) {
    const Lanes start = ToLanes(midstate);
    // Final block: nonce (8 bytes), the 0x80 pad byte, zeros, the length in bits (136 * 8).
    // Words 2..15 never change; words 0 and 1 are the nonce's bytes read big-endian.
    const __m128i w1 = _mm_setzero_si128();
    const __m128i w2 = _mm_setzero_si128();
    const __m128i w3 = _mm_set_epi32(static_cast<int>(kHeaderSize * 8), 0, 0, 0);
    for (std::uint64_t i = 0; i < count; i += 2) {
        const std::uint64_t n0 = first + i;
        const std::uint64_t n1 = n0 + 1;
        __m128i wa[4] = {
            _mm_set_epi32(0, static_cast<int>(0x80000000u),
                          static_cast<int>(Bswap(static_cast<std::uint32_t>(n0 >> 32))),
                          static_cast<int>(Bswap(static_cast<std::uint32_t>(n0)))),
            w1, w2, w3};
        __m128i wb[4] = {
            _mm_set_epi32(0, static_cast<int>(0x80000000u),
                          static_cast<int>(Bswap(static_cast<std::uint32_t>(n1 >> 32))),
                          static_cast<int>(Bswap(static_cast<std::uint32_t>(n1)))),
            w1, w2, w3};
        Lanes a = start;
        Lanes b = start;
#pragma GCC unroll 16
        for (int g = 0; g < 16; ++g) {
            if (g >= 4) {
                Schedule(wa, g);
                Schedule(wb, g);
            }
            Rounds(a, wa[g & 3], g);
            Rounds(b, wb[g & 3], g);
        }
        a.abef = _mm_add_epi32(a.abef, start.abef);
        b.abef = _mm_add_epi32(b.abef, start.abef);
        // Word A is lane 3 of ABEF: the cheap filter before building the hash.
        if (MayMeet(static_cast<std::uint32_t>(_mm_extract_epi32(a.abef, 3)), bits)) {
            a.cdgh = _mm_add_epi32(a.cdgh, start.cdgh);
            if (Candidate(a, bits)) {
                *found = n0;
                return true;
            }
        }
        if (i + 1 < count &&
            MayMeet(static_cast<std::uint32_t>(_mm_extract_epi32(b.abef, 3)), bits)) {
            b.cdgh = _mm_add_epi32(b.cdgh, start.cdgh);
            if (Candidate(b, bits)) {
                *found = n1;
                return true;
            }
        }
    }
    return false;
}

#else  // not x86: callers use the portable path.

bool Available() { return false; }
void Compress(std::uint32_t[8], const std::uint32_t[16]) {}
bool ScanNonces(const std::uint32_t[8], std::uint64_t, std::uint64_t, std::uint32_t,
                std::uint64_t*) {
    return false;
}

#endif

}  // namespace fwchain::ledger::shani
