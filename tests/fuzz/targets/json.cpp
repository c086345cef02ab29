// Strict JSON (ParseJson) and canonical text (Canonical): whatever parses, its canonical text
// parses back to the same value and is a fixed point. ParseJson must also agree with the parser
// it replaced (tests/support/reference_json.hpp) on every input, and AppendCanonical with the
// serializer on every document.
#include "common/core/json.hpp"

#include "tests/fuzz/fuzz.hpp"
#include "tests/support/reference_json.hpp"

FWCHAIN_FUZZ_TARGET(json) {
    using namespace fwchain;
    auto j = ParseJson(fuzz::Text(data, size), 1 << 20);
    auto reference = test::ReferenceParseJson(fuzz::Text(data, size));
    FWCHAIN_FUZZ_CHECK(static_cast<bool>(j) == static_cast<bool>(reference));
    if (!j) return 0;
    FWCHAIN_FUZZ_CHECK(*j == *reference);
    const std::string canonical = Canonical(*j);
    FWCHAIN_FUZZ_CHECK(Canonical(*reference) == canonical);
    std::string appended;
    AppendCanonical(appended, *j);
    FWCHAIN_FUZZ_CHECK(appended == canonical);
    auto again = ParseJson(canonical, 2 << 20);
    FWCHAIN_FUZZ_CHECK(again);
    FWCHAIN_FUZZ_CHECK(*again == *j);
    FWCHAIN_FUZZ_CHECK(Canonical(*again) == canonical);
    return 0;
}
