// Signed envelopes and the documents in them (root, timestamp, release), from the bytes a
// gateway or device receives: structure, then verification against a fixed trusted root.
#include "common/core/envelope.hpp"

#include "common/core/metadata.hpp"
#include "tests/fuzz/fixture.hpp"
#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(envelope) {
    using namespace fwchain;
    auto env = ParseEnvelope(fuzz::Text(data, size));
    if (!env) return 0;
    // What parses serialises to something that parses to the same envelope.
    auto again = ParseEnvelope(env->Serialize());
    FWCHAIN_FUZZ_CHECK(again);
    FWCHAIN_FUZZ_CHECK(again->Serialize() == env->Serialize());

    const fuzz::Fixture& f = fuzz::TheFixture();
    (void)ParseRoot(*env);
    (void)VerifyInitialRoot(*env, fuzz::kNow);
    (void)VerifyRootChain(f.root, {*env}, fuzz::kNow);
    auto ts = VerifyTimestamp(f.root, *env, fuzz::kNow, {});
    (void)ParseTimestamp(*env);
    (void)ParseRelease(*env);
    DeviceMatch device{f.root.vendor, "cam", "rev-b", 0, 0};
    (void)VerifyRelease(f.root, *env, fuzz::kNow, device, f.timestamp);
    (void)VerifyReleaseForRelay(f.root, *env, fuzz::kNow, f.timestamp);
    return 0;
}
