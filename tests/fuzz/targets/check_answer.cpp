// A gateway's answer to POST /v1/check as the device agent processes it: strict JSON (4 MiB
// cap), the root chain walk, the timestamp, the manifest against this device, the ledger proof.
#include "common/core/json.hpp"
#include "common/core/metadata.hpp"
#include "device-agent/ledger_proof.hpp"
#include "tests/fuzz/fixture.hpp"
#include "tests/fuzz/fuzz.hpp"

FWCHAIN_FUZZ_TARGET(check_answer) {
    using namespace fwchain;
    auto a = ParseJson(fuzz::Text(data, size), 4 << 20);
    if (!a || !a->is_object()) return 0;
    const fuzz::Fixture& f = fuzz::TheFixture();
    Root root = f.root;
    if (auto roots = a->find("roots"); roots != a->end() && roots->is_array()) {
        std::vector<Envelope> newer;
        for (const auto& r : *roots) {
            auto env = ParseEnvelope(r);
            if (!env) return 0;
            newer.push_back(*env);
        }
        auto walked = VerifyRootChain(root, newer, fuzz::kNow);
        if (!walked) return 0;
        root = *walked;
    }
    auto ts_json = a->find("timestamp");
    if (ts_json == a->end()) return 0;
    auto ts_env = ParseEnvelope(*ts_json);
    if (!ts_env) return 0;
    auto ts = VerifyTimestamp(root, *ts_env, fuzz::kNow, {});
    if (!ts) return 0;
    auto manifest = a->find("manifest");
    if (manifest == a->end() || manifest->is_null()) return 0;
    auto m_env = ParseEnvelope(*manifest);
    if (!m_env) return 0;
    auto release = VerifyRelease(root, *m_env, fuzz::kNow, {"acme", "cam", "rev-b", 0, 0}, *ts);
    if (!release) return 0;
    device::LedgerPolicy policy;
    policy.min_bits = fuzz::kProofBits;
    policy.genesis_miners = {f.miner_a.Public(), f.miner_b.Public()};
    auto ledger = a->find("ledger");
    (void)device::VerifyLedgerProof(root, *ts, *release,
                                    ledger == a->end() ? Json(nullptr) : *ledger,
                                    {0, fuzz::GenesisHash()}, policy);
    return 0;
}
