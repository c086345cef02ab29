// Strict JSON (ParseJson) and canonical text (Canonical): whatever parses, its canonical text
// parses back to the same value and is a fixed point.
#include "common/core/json.hpp"

#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(json) {
    using namespace fwchain;
    auto j = ParseJson(fuzz::Text(data, size), 1 << 20);
    if (!j) return 0;
    const std::string canonical = Canonical(*j);
    auto again = ParseJson(canonical, 2 << 20);
    FWCHAIN_FUZZ_CHECK(again);
    FWCHAIN_FUZZ_CHECK(*again == *j);
    FWCHAIN_FUZZ_CHECK(Canonical(*again) == canonical);
    return 0;
}
