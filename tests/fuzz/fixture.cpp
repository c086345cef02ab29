#include "tests/fuzz/fixture.hpp"

#include <string_view>

#include "common/core/tx_bodies.hpp"
#include "ledger/primitives/block.hpp"
#include "ledger/primitives/merkle.hpp"

namespace fwchain::fuzz {

namespace {

SigningKey Key(std::uint8_t tag) { return *SigningKey::FromSeed(Bytes(32, tag)); }

Fixture Build() {
    Fixture f{Key(1), Key(2), Key(3), Key(4), Key(5), Key(6), {}, {}, {}, {}, {}};
    Root& r = f.root;
    r.vendor = "acme";
    r.version = 1;
    r.issued = kNow - 100;
    r.expires = kNow + 365 * 86400;
    for (const SigningKey* k : {&f.root_key, &f.release_key, &f.timestamp_key}) {
        r.keys[k->Id()] = k->Public();
    }
    r.roles["root"] = RoleKeys{{f.root_key.Id()}, 1};
    r.roles["release"] = RoleKeys{{f.release_key.Id()}, 1};
    r.roles["timestamp"] = RoleKeys{{f.timestamp_key.Id()}, 1};
    r.roles["admission"] = RoleKeys{{f.root_key.Id()}, 1};
    r.roles["approver"] = RoleKeys{{}, 1};
    r.envelope = SignDocument(MakeRootSigned(r), {&f.root_key});

    ReleaseManifest m;
    m.vendor = "acme";
    m.product = "cam";
    m.hardware = {"rev-b"};
    m.version = "1.0.0";
    m.sequence = 1;
    m.image = ImageInfo{std::string(64, 'a'), 4096, "fw.bin"};
    m.source = ReleaseSource{"r", "v1.0.0", std::string(40, 'c'), "t", ""};
    m.created = kNow - 50;
    m.expires = kNow + 30 * 86400;
    f.manifest = SignDocument(m.ToJson(), {&f.release_key});
    f.release = *ParseRelease(f.manifest);

    ManifestMap manifests;
    manifests["cam"][1] = ManifestEntry{f.manifest.SignedHash(), std::nullopt};
    f.timestamp = *ParseTimestamp(SignDocument(
        MakeTimestampSigned(1, kNow - 10, kNow + 86400, {{"cam", 1}}, manifests, std::nullopt, 1),
        {&f.timestamp_key}));

    Tx& tx = f.release_tx;
    tx.type = txtype::kRelease;
    tx.recipient = "cam";
    tx.ver = "1.0.0";
    tx.verifier = std::string(64, 'a');
    tx.time = kNow - 40;
    tx.nonce = 7;
    tx.body = ReleaseTxBody{1, f.manifest.SignedHash(), {"rev-b"}, std::nullopt, 0}.ToJson();
    tx.SignWith(f.release_key);
    return f;
}

Hash256 Id(const Tx& tx) { return *Hash256FromHex(tx.Id()); }

struct Chain {
    std::vector<ledger::BlockHeader> headers;
    std::vector<Signature> sigs;
    void Add(const std::vector<Hash256>& ids, const SigningKey& miner) {
        ledger::BlockHeader h;
        h.bits = kProofBits;
        h.height = headers.size();
        h.timestamp = kNow - 1000 + static_cast<std::int64_t>(h.height);
        if (!headers.empty()) h.prev_hash = headers.back().Hash();
        h.merkle_root = ledger::MerkleRoot(ids);
        h.miner = miner.Public();
        while (!ledger::MeetsBits(h.Hash(), h.bits)) ++h.nonce;
        const Hash256 hash = h.Hash();
        headers.push_back(h);
        sigs.push_back(
            miner.Sign(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size())));
    }
};

const Chain& TheChain() {
    static const Chain chain = [] {
        const Fixture& f = TheFixture();
        Chain c;
        c.Add({Hash256{1}}, f.miner_a);                    // genesis
        c.Add({Hash256{2}, Id(f.release_tx)}, f.miner_b);  // 1: the release
        c.Add({Hash256{3}}, f.miner_a);                    // 2
        c.Add({Hash256{4}}, f.miner_b);                    // 3
        return c;
    }();
    return chain;
}

}  // namespace

const Fixture& TheFixture() {
    static const Fixture f = Build();
    return f;
}

std::string GenesisHash() { return ToHex(TheChain().headers[0].Hash()); }

std::string ValidLedgerProof() {
    const Fixture& f = TheFixture();
    const Chain& c = TheChain();
    Json headers = Json::array();
    for (std::size_t i = 1; i < c.headers.size(); ++i) {
        headers.push_back(
            Json{{"header", ToHex(c.headers[i].Serialize())}, {"miner_sig", ToHex(c.sigs[i])}});
    }
    const auto proof = ledger::MakeMerkleProof({Hash256{2}, Id(f.release_tx)}, 1);
    return Canonical(Json{{"tx", f.release_tx.ToJson()},
                          {"height", 1},
                          {"proof", ledger::MerkleProofToJson(proof)},
                          {"headers", headers},
                          {"admissions", Json::array()}});
}

Tx ReportTx() {
    const Fixture& f = TheFixture();
    Tx tx;
    tx.type = txtype::kUpdate;
    tx.recipient = "dev-1";
    tx.ver = "1.0.0";
    tx.verifier = std::string(64, 'a');
    tx.state = "installed";
    tx.time = kNow;
    tx.nonce = 3;
    tx.body = UpdateTxBody{"cam", 1, 0, "gw", "", std::nullopt}.ToJson();
    tx.SignWith(f.device_key);
    return tx;
}

}  // namespace fwchain::fuzz
