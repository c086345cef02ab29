// Ledger transactions: stable ids, and ParseTx refusing anything but the exact signed shape.
#include "common/core/tx.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/malleate.hpp"
#include "tests/unit/common/helpers.hpp"

namespace fwchain {
namespace {

using test::TestKey;

Tx SampleTx(const SigningKey& key) {
    Tx tx;
    tx.type = txtype::kUpdate;
    tx.recipient = "device-0001";
    tx.ver = "1.4.2";
    tx.verifier = std::string(64, 'a');
    tx.state = "installed";
    tx.time = 1'700'000'000;
    tx.nonce = 42;
    tx.body = Json{{"product", "thermo-1"}, {"sequence", 7}, {"previous_sequence", 6}};
    tx.SignWith(key);
    return tx;
}

TEST(Tx, SignWithSetsSenderAndIdIsStable) {
    const SigningKey key = TestKey(5);
    const Tx a = SampleTx(key);
    const Tx b = SampleTx(key);
    EXPECT_EQ(a.sender, key.PublicHex());
    EXPECT_TRUE(IsHex(a.sig, 64));
    EXPECT_TRUE(a.SignatureValid());
    // Ed25519 is deterministic: the same tx signed twice has the same id.
    EXPECT_EQ(a.Id(), b.Id());
    EXPECT_EQ(a.Id(), Sha256Hex(Canonical(a.ToJson())));
    EXPECT_TRUE(IsHex(a.Id(), 32));
    // The id covers the signature and every field.
    Tx c = SampleTx(key);
    c.nonce = 43;
    c.SignWith(key);
    EXPECT_NE(c.Id(), a.Id());
    const Tx d = SampleTx(TestKey(6));
    EXPECT_NE(d.Id(), a.Id());
    // The signature covers the unsigned fields only (no "sig" inside).
    EXPECT_FALSE(a.UnsignedJson().contains("sig"));
    EXPECT_EQ(a.ToJson().size(), 10u);
}

// A relay holds the signed tx but not the key. Every change it can make to the signature text
// (S + L, upper-case hex) must make the tx unparseable, so the id it would get never exists.
TEST(Tx, RelayCannotChangeTheIdWithoutTheKey) {
    const Tx tx = SampleTx(TestKey(5));
    Bytes sig = *FromHex(tx.sig);
    test::AddOrderToS(sig.data());
    Json malleated = tx.ToJson();
    malleated["sig"] = ToHex(sig);
    auto parsed = ParseTx(malleated);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().reason, "bad-signature");

    Json upper = tx.ToJson();
    std::string text = tx.sig;
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    upper["sig"] = text;
    EXPECT_FALSE(ParseTx(upper));
    // The tx itself still parses, with its one id.
    auto ok = ParseTx(tx.ToJson());
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->Id(), tx.Id());
}

// CanonicalText writes the fields itself; it must equal Canonical() of the JSON object, which
// is what ids and signatures are defined over, on every kind of value.
TEST(Tx, CanonicalTextEqualsCanonicalJson) {
    const SigningKey key = TestKey(9);
    std::vector<Tx> txs{SampleTx(key), Tx{}};
    Tx odd = SampleTx(key);
    odd.recipient = "quote\" back\\slash \x01\x1f ctl";
    odd.ver = "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x94\x92";  // UTF-8, 2 to 4 bytes
    odd.state = "";
    odd.time = -5;
    odd.nonce = ~0ULL;
    odd.body = Json{{"z", Json::array({1, -2, "x"})},
                    {"a", Json::object()},
                    {"m", nullptr},
                    {"b", true},
                    {"\u00e9", "\n"}};
    odd.sig = std::string(128, 'f');
    txs.push_back(odd);
    Tx ascii = SampleTx(key);
    for (int c = 0; c < 128; ++c) ascii.recipient += static_cast<char>(c);  // every ASCII byte
    ascii.ver = "\xff\xfe invalid UTF-8";
    txs.push_back(ascii);
    for (const Tx& tx : txs) {
        EXPECT_EQ(tx.CanonicalText(), Canonical(tx.ToJson()));
        EXPECT_EQ(tx.CanonicalText(false), Canonical(tx.UnsignedJson()));
        EXPECT_EQ(tx.Id(), Sha256Hex(Canonical(tx.ToJson())));
    }
    std::string text;
    auto parsed = ParseTx(txs[0].ToJson(), &text);
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    EXPECT_EQ(text, Canonical(txs[0].ToJson()));
}

TEST(Tx, ParseAcceptsValidAndKeepsTheId) {
    const Tx tx = SampleTx(TestKey(5));
    auto j = ParseJson(Canonical(tx.ToJson()));
    ASSERT_TRUE(j);
    auto parsed = ParseTx(*j);
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    EXPECT_EQ(parsed->Id(), tx.Id());
    EXPECT_EQ(parsed->nonce, 42u);
    EXPECT_EQ(parsed->body, tx.body);

    Tx empty_verifier = SampleTx(TestKey(5));
    empty_verifier.verifier = "";
    empty_verifier.SignWith(TestKey(5));
    EXPECT_TRUE(ParseTx(empty_verifier.ToJson()));
}

TEST(Tx, ParseRejections) {
    const SigningKey key = TestKey(5);
    const Json good = SampleTx(key).ToJson();
    using Mutate = std::function<void(Json&)>;
    struct Case {
        const char* name;
        Mutate mutate;
        std::string reason;
    };
    const std::vector<Case> cases = {
        // Tampering with any signed field breaks the signature.
        {"tampered recipient", [](Json& j) { j["recipient"] = "device-0002"; }, "bad-signature"},
        {"tampered state", [](Json& j) { j["state"] = "failed"; }, "bad-signature"},
        {"tampered nonce", [](Json& j) { j["nonce"] = 41; }, "bad-signature"},
        {"tampered time", [](Json& j) { j["time"] = 1; }, "bad-signature"},
        {"tampered body", [](Json& j) { j["body"]["sequence"] = 8; }, "bad-signature"},
        {"tampered type", [](Json& j) { j["type"] = "status"; }, "bad-signature"},
        {"other sender", [](Json& j) { j["sender"] = TestKey(6).PublicHex(); }, "bad-signature"},
        {"zero sig", [](Json& j) { j["sig"] = std::string(128, '0'); }, "bad-signature"},
        // Shape.
        {"extra field", [](Json& j) { j["extra"] = 1; }, "malformed-tx"},
        {"missing field", [](Json& j) { j.erase("ver"); }, "malformed-tx"},
        {"missing sig", [](Json& j) { j.erase("sig"); }, "malformed-tx"},
        {"body renamed",
         [](Json& j) {
             j["bodx"] = j["body"];
             j.erase("body");
         },
         "malformed-tx"},
        {"nonce renamed",
         [](Json& j) {
             j["noncx"] = j["nonce"];
             j.erase("nonce");
         },
         "malformed-tx"},
        {"body not object", [](Json& j) { j["body"] = Json::array(); }, "malformed-tx"},
        {"nonce negative", [](Json& j) { j["nonce"] = -1; }, "malformed-tx"},
        {"time string", [](Json& j) { j["time"] = "now"; }, "malformed-tx"},
        {"sender uppercase hex",
         [](Json& j) {
             std::string s = j["sender"];
             for (char& c : s) c = static_cast<char>(std::toupper(c));
             j["sender"] = s;
         },
         "malformed-tx"},
        {"sender short", [](Json& j) { j["sender"] = "abcd"; }, "malformed-tx"},
        {"sig not hex", [](Json& j) { j["sig"] = std::string(128, 'x'); }, "malformed-tx"},
        {"sig odd", [](Json& j) { j["sig"] = std::string(127, '0'); }, "malformed-tx"},
        {"verifier not hex", [](Json& j) { j["verifier"] = "xyz"; }, "malformed-tx"},
        {"recipient too long", [](Json& j) { j["recipient"] = std::string(257, 'r'); },
         "malformed-tx"},
        {"oversize body",
         [](Json& j) {
             j["body"] = Json{{"blob", std::string(kMaxTxSize, 'x')}};
         },
         "tx-too-large"},
    };
    for (const auto& c : cases) {
        Json j = good;
        c.mutate(j);
        auto tx = ParseTx(j);
        ASSERT_FALSE(tx) << c.name;
        EXPECT_EQ(tx.error().reason, c.reason) << c.name << ": " << tx.error().ToString();
    }
    EXPECT_FALSE(ParseTx(Json::array()));
    EXPECT_FALSE(ParseTx(Json("tx")));
}

TEST(Tx, OversizeRejectedEvenWhenCorrectlySigned) {
    const SigningKey key = TestKey(5);
    Tx tx = SampleTx(key);
    tx.body = Json{{"blob", std::string(kMaxTxSize, 'x')}};
    tx.SignWith(key);
    ASSERT_TRUE(tx.SignatureValid());
    auto parsed = ParseTx(tx.ToJson());
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, Errc::kTooLarge);
    EXPECT_EQ(parsed.error().reason, "tx-too-large");
}

}  // namespace
}  // namespace fwchain
