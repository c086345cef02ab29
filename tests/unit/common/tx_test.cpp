// Ledger transactions: stable ids, and ParseTx refusing anything but the exact signed shape.
#include "common/core/tx.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/malleate.hpp"
#include "tests/unit/common/helpers.hpp"

namespace fwchain {
namespace {

using test::TestKey;

constexpr const char* kFieldNames[] = {"type",  "sender", "recipient", "ver",  "verifier",
                                       "state", "time",   "nonce",     "body", "sig"};

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

// ---------------------------------------------------------------------------------------------
// ParseTx reads the fields in one pass over the object, writes the signed text once (the
// signed message is it without "sig") and moves out of a document given up (ParseTx(Json&&)).
// The reference below is ParseTx as it was; every input must get the same answer from all three:
// the same Tx, canonical text and id, or the same error (code, reason and message).

Expected<Tx> ReferenceParseTx(const Json& j, std::string* canonical, bool check_signature) {
    if (!j.is_object()) return Fail(Errc::kInvalid, "malformed-tx", "transaction is not an object");
    if (j.size() != 10) {
        return Fail(Errc::kInvalid, "malformed-tx",
                    "transaction must have exactly the fields "
                    "type, sender, recipient, ver, verifier, state, time, nonce, body, sig");
    }
    Tx tx;
    auto fail = [](const Error& e) { return Fail(Errc::kInvalid, "malformed-tx", e.message); };
    auto type = GetString(j, "type");
    if (!type) return fail(type.error());
    auto sender = GetString(j, "sender");
    if (!sender) return fail(sender.error());
    auto recipient = GetString(j, "recipient");
    if (!recipient) return fail(recipient.error());
    auto ver = GetString(j, "ver");
    if (!ver) return fail(ver.error());
    auto verifier = GetString(j, "verifier");
    if (!verifier) return fail(verifier.error());
    auto state = GetString(j, "state");
    if (!state) return fail(state.error());
    auto time = GetInt(j, "time");
    if (!time) return fail(time.error());
    auto nonce = GetUint(j, "nonce");
    if (!nonce) return fail(nonce.error());
    auto sig = GetString(j, "sig");
    if (!sig) return fail(sig.error());
    auto body = GetObject(j, "body");
    if (!body) return fail(body.error());
    tx.type = *type;
    tx.sender = *sender;
    tx.recipient = *recipient;
    tx.ver = *ver;
    tx.verifier = *verifier;
    tx.state = *state;
    tx.time = *time;
    tx.nonce = *nonce;
    tx.body = **body;
    tx.sig = *sig;
    if (!IsHex(tx.sender, 32)) {
        return Fail(Errc::kInvalid, "malformed-tx", "sender must be a 32-byte public key in hex");
    }
    if (!IsHex(tx.sig, 64)) {
        return Fail(Errc::kInvalid, "malformed-tx", "sig must be a 64-byte signature in hex");
    }
    if (!tx.verifier.empty() && !IsHex(tx.verifier, 32)) {
        return Fail(Errc::kInvalid, "malformed-tx", "verifier must be empty or a SHA-256 in hex");
    }
    if (tx.recipient.size() > 256 || tx.ver.size() > 64 || tx.state.size() > 32 ||
        tx.type.size() > 32) {
        return Fail(Errc::kInvalid, "malformed-tx", "a transaction field is too long");
    }
    // Canonical(ToJson()) through the serializer, not CanonicalText (which changed too).
    std::string text = Canonical(tx.ToJson());
    if (text.size() > kMaxTxSize) {
        return Fail(Errc::kTooLarge, "tx-too-large",
                    "transaction exceeds " + std::to_string(kMaxTxSize) + " bytes");
    }
    if (check_signature) {
        auto pub = PublicKeyFromHex(tx.sender);
        auto s = SignatureFromHex(tx.sig);
        if (!pub || !s || !Verify(*pub, Canonical(tx.UnsignedJson()), *s)) {
            return Fail(Errc::kVerify, "bad-signature", "transaction signature does not verify");
        }
    }
    if (canonical != nullptr) *canonical = std::move(text);
    return tx;
}

void ExpectSameTx(const Tx& a, const Tx& b, const std::string& what) {
    EXPECT_EQ(a.type, b.type) << what;
    EXPECT_EQ(a.sender, b.sender) << what;
    EXPECT_EQ(a.recipient, b.recipient) << what;
    EXPECT_EQ(a.ver, b.ver) << what;
    EXPECT_EQ(a.verifier, b.verifier) << what;
    EXPECT_EQ(a.state, b.state) << what;
    EXPECT_EQ(a.time, b.time) << what;
    EXPECT_EQ(a.nonce, b.nonce) << what;
    EXPECT_EQ(a.body, b.body) << what;
    EXPECT_EQ(Canonical(a.body), Canonical(b.body)) << what;
    EXPECT_EQ(a.sig, b.sig) << what;
}

void ExpectParsesAsReference(const Json& j, const std::string& what) {
    for (bool check : {true, false}) {
        std::string want_text;
        std::string got_text;
        std::string moved_text;
        auto want = ReferenceParseTx(j, &want_text, check);
        auto got = ParseTx(j, &got_text, check);
        Json copy = j;
        auto moved = ParseTx(std::move(copy), &moved_text, check);
        ASSERT_EQ(static_cast<bool>(got), static_cast<bool>(want)) << what;
        ASSERT_EQ(static_cast<bool>(moved), static_cast<bool>(want)) << what;
        if (want) {
            ExpectSameTx(*got, *want, what);
            ExpectSameTx(*moved, *want, what);
            EXPECT_EQ(got_text, want_text) << what;
            EXPECT_EQ(moved_text, want_text) << what;
            EXPECT_EQ(got->Id(), Sha256Hex(want_text)) << what;
            EXPECT_EQ(got->CanonicalText(false), Canonical(want->UnsignedJson())) << what;
        } else {
            for (const auto* e : {&got.error(), &moved.error()}) {
                EXPECT_EQ(e->code, want.error().code) << what;
                EXPECT_EQ(e->reason, want.error().reason) << what;
                EXPECT_EQ(e->message, want.error().message) << what;
            }
        }
    }
}

TEST(Tx, ParseAgreesWithTheReferenceOnMutatedObjects) {
    const SigningKey key = TestKey(5);
    const Tx sample = SampleTx(key);
    std::vector<std::pair<std::string, Json>> cases;
    cases.emplace_back("good", sample.ToJson());
    Tx empty_verifier = sample;
    empty_verifier.verifier = "";
    empty_verifier.SignWith(key);
    cases.emplace_back("empty verifier", empty_verifier.ToJson());
    Tx odd = sample;
    odd.recipient = "quote\" back\\slash \x01\x1f ctl \x7f";
    odd.ver = "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93";
    odd.state = "";
    odd.time = INT64_MIN;
    odd.nonce = UINT64_MAX;
    odd.body = Json{{"z", Json::array({1, -2, "x"})}, {"a", Json::object()}, {"\xc3\xa9", "\n"}};
    odd.SignWith(key);
    cases.emplace_back("odd values", odd.ToJson());
    const Json good = sample.ToJson();
    auto with = [&](const std::string& field, Json value) {
        Json j = good;
        j[field] = std::move(value);
        cases.emplace_back(field + "=" + j[field].dump(), j);
    };
    for (const char* f : {"type", "sender", "recipient", "ver", "verifier", "state", "sig"}) {
        with(f, 5);
        with(f, Json::object());
        with(f, nullptr);
        with(f, "");
        with(f, std::string(300, 'a'));
    }
    for (const char* f : {"time", "nonce"}) {
        with(f, -1);
        with(f, INT64_MIN);
        with(f, INT64_MAX);
        with(f, static_cast<std::uint64_t>(INT64_MAX) + 1);
        with(f, UINT64_MAX);
        with(f, 1.5);
        with(f, "1");
        with(f, true);
    }
    with("body", Json::array());
    with("body", "x");
    with("body", Json{{"blob", std::string(kMaxTxSize, 'x')}});
    with("sender", ToHex(Bytes(32, 0xab)).substr(0, 63) + "G");
    with("sig", std::string(128, 'F'));
    with("verifier", std::string(64, 'A'));
    with("verifier", "xyz");
    for (const char* f : kFieldNames) {
        Json missing = good;
        missing.erase(f);
        cases.emplace_back(std::string("missing ") + f, missing);
        Json renamed = missing;
        renamed[std::string(f) + "x"] = good[f];
        cases.emplace_back(std::string("renamed ") + f, renamed);
        Json extra = good;
        extra[std::string(f) + "2"] = good[f];
        cases.emplace_back(std::string("extra ") + f, extra);
    }
    cases.emplace_back("array", Json::array());
    cases.emplace_back("string", Json("tx"));
    cases.emplace_back("empty object", Json::object());
    // Signed integers where the parser would give unsigned ones (documents built in code).
    Json signed_ints = good;
    signed_ints["nonce"] = static_cast<std::int64_t>(42);
    signed_ints["time"] = static_cast<std::int64_t>(1'700'000'000);
    cases.emplace_back("signed integers", signed_ints);
    for (const auto& [what, j] : cases) ExpectParsesAsReference(j, what);
}

// Texts that are not the canonical form of a tx: the parser either refuses them or reads the same
// document from them, whose canonical form (and id) is what counts, exactly as before.
TEST(Tx, ParseAgreesWithTheReferenceOnNonCanonicalTexts) {
    const Tx tx = SampleTx(TestKey(5));
    const std::string canonical = tx.CanonicalText();
    auto replace = [&](const std::string& from, const std::string& to) {
        std::string s = canonical;
        const auto at = s.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        if (at != std::string::npos) s.replace(at, from.size(), to);
        return s;
    };
    const std::string sig_field = R"("sig":")" + tx.sig + "\"";
    const std::vector<std::string> texts = {
        canonical,
        // whitespace
        " " + canonical + "\n",
        replace(R"("nonce":)", R"( "nonce" : )"),
        // reordered keys
        replace(sig_field + ",", "").insert(1, sig_field + ","),
        // escapes that decode to the same strings
        replace(R"("type":"update")", R"("type":"\u0075pdate")"),
        replace(R"("ver":"1.4.2")", R"("ver":"1\u002e4.2")"),
        replace(R"("recipient":"device-0001")", R"("recipient":"device\u002d0001")"),
        replace(R"("state":"installed")", R"("state":"installed\/")"),
        // uppercase hex, escaped hex
        replace(tx.sig.substr(0, 4), "ABCD"),
        replace(R"("sender":")" + tx.sender.substr(0, 1),
                R"("sender":"\u00)" + ToHex(tx.sender.substr(0, 1))),
        replace(tx.verifier.substr(0, 2), "AA"),
        // duplicate keys
        replace(R"("nonce":42,)", R"("nonce":42,"nonce":42,)"),
        replace(R"("product":"thermo-1")", R"("product":"thermo-1","product":"thermo-1")"),
        // big and odd numbers
        replace(R"("nonce":42)", R"("nonce":18446744073709551615)"),
        replace(R"("nonce":42)", R"("nonce":18446744073709551616)"),
        replace(R"("nonce":42)", R"("nonce":42.0)"),
        replace(R"("nonce":42)", R"("nonce":4.2e1)"),
        replace(R"("nonce":42)", R"("nonce":-0)"),
        replace(R"("nonce":42)", R"("nonce":042)"),
        replace(R"("time":1700000000)", R"("time":9223372036854775808)"),
        replace(R"("time":1700000000)", R"("time":-9223372036854775808)"),
        replace(R"("sequence":7)", R"("sequence":7.0)"),
        replace(R"("sequence":7)", R"("sequence":00007)"),
    };
    for (const auto& text : texts) {
        auto j = ParseJson(text);
        if (!j) continue;  // refused before ParseTx, by the parser the json tests compare
        ExpectParsesAsReference(*j, text);
    }
    // The parser refuses these before ParseTx sees them.
    EXPECT_FALSE(ParseJson(replace(R"("nonce":42,)", R"("nonce":42,"nonce":42,)")));
    EXPECT_FALSE(ParseJson(replace(R"("nonce":42)", R"("nonce":42.0)")));
    EXPECT_FALSE(ParseJson(replace(R"("nonce":42)", R"("nonce":18446744073709551616)")));
}

}  // namespace
}  // namespace fwchain
