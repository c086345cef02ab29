#pragma once
// One source per fuzz target, built two ways (tests/fuzz/CMakeLists.txt):
// - FWCHAIN_LIBFUZZER (clang, -fsanitize=fuzzer): the target is LLVMFuzzerTestOneInput of its
//   own libFuzzer executable (scripts/fuzz);
// - otherwise: registered by name in fuzz_replay, which feeds it the files of its seed corpus
//   (CTest, label `fuzz`, in the normal gcc build).
// A target returns 0; a broken invariant aborts through FWCHAIN_FUZZ_CHECK, which both drivers
// report as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace fwchain::fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);
bool Register(const char* name, TargetFn fn);

inline std::string_view Text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void CheckFailed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
    std::abort();
}

}  // namespace fwchain::fuzz

#define FWCHAIN_FUZZ_CHECK(cond) \
    ((cond) ? static_cast<void>(0) : ::fwchain::fuzz::CheckFailed(#cond, __FILE__, __LINE__))

#ifdef FWCHAIN_LIBFUZZER
#define FWCHAIN_FUZZ_TARGET(name)                                                       \
    static int FuzzOne(const std::uint8_t* data, std::size_t size);                     \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
        return FuzzOne(data, size);                                                     \
    }                                                                                   \
    static int FuzzOne(const std::uint8_t* data, std::size_t size)
#else
#define FWCHAIN_FUZZ_TARGET(name)                                   \
    static int FuzzOne(const std::uint8_t* data, std::size_t size); \
    [[maybe_unused]] static const bool fuzz_registered_##name =     \
        ::fwchain::fuzz::Register(#name, &FuzzOne);                 \
    static int FuzzOne(const std::uint8_t* data, std::size_t size)
#endif
