// Known-answer tests for SHA-256 (NIST FIPS 180-2 examples) and Ed25519 (RFC 8032 §7.1), and
// the key file rules (mode 0600, refusal of readable files).
#include "common/core/crypto.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "common/core/fs.hpp"
#include "common/core/json.hpp"
#include "tests/support/malleate.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/common/helpers.hpp"

namespace fwchain {
namespace {

using test::MustHex;
using test::TempDir;

struct ShaVector {
    std::string message;
    std::string digest;
};

const std::vector<ShaVector> kShaVectors = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

TEST(Sha256, NistVectors) {
    for (const auto& v : kShaVectors) {
        EXPECT_EQ(ToHex(Sha256(v.message)), v.digest) << "message \"" << v.message << "\"";
        EXPECT_EQ(Sha256Hex(v.message), v.digest);
        EXPECT_EQ(ToHex(Sha256(ToBytes(v.message))), v.digest);
    }
}

TEST(Sha256, StreamOneByteAtATimeMatchesOneShot) {
    for (const auto& v : kShaVectors) {
        Sha256Stream s;
        for (char c : v.message) s.Update(&c, 1);
        EXPECT_EQ(ToHex(s.Final()), v.digest);
    }
}

TEST(Sha256, MillionAInChunks) {
    // Chunk sizes that do not divide the 64-byte block size exercise the buffering.
    for (std::size_t chunk : {1000u, 997u, 65536u}) {
        const std::string block(chunk, 'a');
        Sha256Stream s;
        std::size_t left = 1000000;
        while (left > 0) {
            std::size_t n = std::min(left, chunk);
            s.Update(block.data(), n);
            left -= n;
        }
        EXPECT_EQ(ToHex(s.Final()),
                  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
            << "chunk " << chunk;
    }
}

TEST(Sha256, FileEqualsHashOfSameBytes) {
    TempDir dir;
    // Larger than the 64 KiB read buffer, not a multiple of it, with every byte value.
    std::string data;
    for (std::size_t i = 0; i < 200000; ++i) data.push_back(static_cast<char>(i * 7 % 256));
    ASSERT_TRUE(WriteFileAtomic(dir / "img", data));
    auto h = Sha256File(dir / "img");
    ASSERT_TRUE(h) << h.error().ToString();
    EXPECT_EQ(*h, Sha256Hex(data));

    ASSERT_TRUE(WriteFileAtomic(dir / "empty", ""));
    auto e = Sha256File(dir / "empty");
    ASSERT_TRUE(e);
    EXPECT_EQ(*e, kShaVectors[0].digest);

    auto missing = Sha256File(dir / "nope");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, Errc::kIo);
}

struct EdVector {
    const char* name;
    std::string seed;
    std::string pub;
    std::string message;
    std::string sig;
};

// RFC 8032 §7.1.
const std::vector<EdVector> kEdVectors = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
};

TEST(Ed25519, Rfc8032Vectors) {
    for (const auto& v : kEdVectors) {
        SCOPED_TRACE(v.name);
        auto key = SigningKey::FromSeed(MustHex(v.seed));
        ASSERT_TRUE(key) << key.error().ToString();
        EXPECT_EQ(key->PublicHex(), v.pub);
        EXPECT_EQ(key->Id(), Sha256Hex(std::string_view(
                                 reinterpret_cast<const char*>(key->Public().data()), 32)));

        const Bytes msg = MustHex(v.message);
        ASSERT_EQ(msg.size() * 2, v.message.size());
        const Signature sig = key->Sign(msg.data(), msg.size());
        EXPECT_EQ(ToHex(sig), v.sig);

        auto pub = PublicKeyFromHex(v.pub);
        auto expected_sig = SignatureFromHex(v.sig);
        ASSERT_TRUE(pub && expected_sig);
        EXPECT_TRUE(Verify(*pub, msg.data(), msg.size(), *expected_sig));
    }
}

TEST(Ed25519, VerifyRejectsEveryFlippedSignatureByte) {
    for (const auto& v : kEdVectors) {
        SCOPED_TRACE(v.name);
        const Bytes msg = MustHex(v.message);
        const PublicKey pub = *PublicKeyFromHex(v.pub);
        const Signature good = *SignatureFromHex(v.sig);
        for (std::size_t i = 0; i < good.size(); ++i) {
            Signature bad = good;
            bad[i] ^= 0x01;
            EXPECT_FALSE(Verify(pub, msg.data(), msg.size(), bad)) << "flipped byte " << i;
        }
    }
}

TEST(Ed25519, VerifyRejectsFlippedMessageAndWrongKey) {
    for (const auto& v : kEdVectors) {
        SCOPED_TRACE(v.name);
        Bytes msg = MustHex(v.message);
        const Signature sig = *SignatureFromHex(v.sig);
        const PublicKey pub = *PublicKeyFromHex(v.pub);
        Bytes longer = msg;
        longer.push_back(0);
        EXPECT_FALSE(Verify(pub, longer.data(), longer.size(), sig));
        if (!msg.empty()) {
            msg[0] ^= 0x80;
            EXPECT_FALSE(Verify(pub, msg.data(), msg.size(), sig));
        }
        PublicKey other = pub;
        other[5] ^= 0x01;
        const Bytes orig = MustHex(v.message);
        EXPECT_FALSE(Verify(other, orig.data(), orig.size(), sig));
    }
}

// Project Wycheproof's Ed25519 vectors (tests/data/wycheproof): every vector, valid and invalid.
TEST(Ed25519, WycheproofVectors) {
    auto file =
        LoadJsonFile(std::string(FWCHAIN_SOURCE_DIR) + "/tests/data/wycheproof/ed25519_test.json");
    ASSERT_TRUE(file) << file.error().ToString();
    std::size_t checked = 0;
    std::size_t invalid = 0;
    for (const auto& group : (*file)["testGroups"]) {
        const std::string pk_hex = group["publicKey"]["pk"];
        for (const auto& t : group["tests"]) {
            const int id = t["tcId"];
            const std::string want = t["result"];
            ASSERT_TRUE(want == "valid" || want == "invalid") << id;
            const Bytes msg = MustHex(t["msg"]);
            auto pub = PublicKeyFromHex(pk_hex);
            auto sig = SignatureFromHex(t["sig"].get<std::string>());
            // A signature of the wrong length never reaches Verify: the hex parser refuses it.
            const bool ok = pub && sig && Verify(*pub, msg.data(), msg.size(), *sig);
            EXPECT_EQ(ok, want == "valid") << "tcId " << id << " " << t["comment"];
            ++checked;
            invalid += want == "invalid" ? 1 : 0;
        }
    }
    EXPECT_EQ(checked, (*file)["numberOfTests"].get<std::size_t>());
    EXPECT_GT(invalid, 50u);
}

// S' = S + L, little endian: the malleated signature Crypto++'s verifier accepts by itself.
Signature AddOrderToS(Signature sig) {
    test::AddOrderToS(sig.data());
    return sig;
}

TEST(Ed25519, RejectsSPlusOrder) {
    // RFC 8032 §5.1.7: S must be below L. S + L stays below 2^256 for every S < L.
    for (const auto& v : kEdVectors) {
        SCOPED_TRACE(v.name);
        const Bytes msg = MustHex(v.message);
        const PublicKey pub = *PublicKeyFromHex(v.pub);
        const Signature good = *SignatureFromHex(v.sig);
        const Signature malleated = AddOrderToS(good);
        ASSERT_NE(ToHex(malleated), ToHex(good));
        EXPECT_TRUE(Verify(pub, msg.data(), msg.size(), good));
        EXPECT_FALSE(Verify(pub, msg.data(), msg.size(), malleated));
        EXPECT_FALSE(Ed25519ScalarIsCanonical(malleated.data() + 32));
    }
}

TEST(Ed25519, ByteChecksOnScalarsAndPoints) {
    const Bytes l = MustHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    const Bytes l_minus_1 =
        MustHex("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    const Bytes zero(32, 0);
    const Bytes ff(32, 0xff);
    EXPECT_FALSE(Ed25519ScalarIsCanonical(l.data()));
    EXPECT_TRUE(Ed25519ScalarIsCanonical(l_minus_1.data()));
    EXPECT_TRUE(Ed25519ScalarIsCanonical(zero.data()));
    EXPECT_FALSE(Ed25519ScalarIsCanonical(ff.data()));

    struct PointCase {
        const char* hex;
        bool canonical;
        bool small_order;
    };
    const PointCase cases[] = {
        // The 8 torsion points (identity, order 2, two of order 4, four of order 8).
        {"0100000000000000000000000000000000000000000000000000000000000000", true, true},
        {"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", true, true},
        {"0000000000000000000000000000000000000000000000000000000000000000", true, true},
        {"0000000000000000000000000000000000000000000000000000000000000080", true, true},
        {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", true, true},
        {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", true, true},
        {"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", true, true},
        {"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", true, true},
        // Non-canonical: y = p (= 0), y = p + 1 (= 1), y = 2^255 - 1, with either sign.
        {"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false, false},
        {"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false, false},
        {"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false, false},
        {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false, false},
        // y = p - 1 with the sign bit set, and an ordinary key (RFC 8032 TEST 1).
        {"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", true, true},
        {"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", true, false},
    };
    for (const auto& c : cases) {
        const Bytes p = MustHex(c.hex);
        EXPECT_EQ(Ed25519PointIsCanonical(p.data()), c.canonical) << c.hex;
        EXPECT_EQ(Ed25519PointIsSmallOrder(p.data()), c.small_order) << c.hex;
    }
}

TEST(Ed25519, RejectsSmallOrderPublicKeyAndR) {
    // Identity public key, R = identity, S = 0: S·B = R + k·A holds for every message, so a
    // verifier that only checks the group equation accepts this "signature" of anything.
    const PublicKey identity =
        *PublicKeyFromHex("0100000000000000000000000000000000000000000000000000000000000000");
    Signature forged{};
    forged[0] = 1;
    EXPECT_FALSE(Verify(identity, "any message", forged));
    EXPECT_FALSE(Verify(identity, "another one", forged));
    // A real key with R of small order and S = 0 is refused too.
    const PublicKey real = *PublicKeyFromHex(kEdVectors[0].pub);
    EXPECT_FALSE(Verify(real, "m", forged));
}

TEST(Ed25519, FromSeedRejectsWrongLength) {
    for (std::size_t n : {0u, 31u, 33u, 64u}) {
        auto k = SigningKey::FromSeed(Bytes(n, 1));
        ASSERT_FALSE(k) << n;
        EXPECT_EQ(k.error().code, Errc::kInvalid);
        EXPECT_EQ(k.error().reason, "bad-key");
    }
}

TEST(Ed25519, GenerateGivesDistinctWorkingKeys) {
    SigningKey a = SigningKey::Generate();
    SigningKey b = SigningKey::Generate();
    EXPECT_NE(a.PublicHex(), b.PublicHex());
    const Signature sig = a.Sign("hello");
    EXPECT_TRUE(Verify(a.Public(), "hello", sig));
    EXPECT_FALSE(Verify(b.Public(), "hello", sig));
}

TEST(Ed25519, HexParsersCheckLength) {
    EXPECT_FALSE(PublicKeyFromHex(std::string(62, 'a')));
    EXPECT_FALSE(PublicKeyFromHex(std::string(66, 'a')));
    EXPECT_FALSE(PublicKeyFromHex(std::string(64, 'A')));
    EXPECT_TRUE(PublicKeyFromHex(std::string(64, 'a')));
    EXPECT_FALSE(SignatureFromHex(std::string(126, '0')));
    EXPECT_FALSE(SignatureFromHex(std::string(128, 'g')));
    EXPECT_TRUE(SignatureFromHex(std::string(128, '0')));
}

TEST(SigningKeyFile, SaveWrites0600AndLoadRoundTrips) {
    TempDir dir;
    const SigningKey key = test::TestKey(7);
    const std::string path = dir / "release.key";
    ASSERT_TRUE(key.Save(path));
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    auto loaded = SigningKey::Load(path);
    ASSERT_TRUE(loaded) << loaded.error().ToString();
    EXPECT_EQ(loaded->PublicHex(), key.PublicHex());
    EXPECT_EQ(loaded->Sign("m"), key.Sign("m"));

    // Saving again over an existing file keeps the mode and the content stays valid.
    ASSERT_TRUE(test::TestKey(8).Save(path));
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(SigningKey::Load(path)->PublicHex(), test::TestKey(8).PublicHex());
}

TEST(SigningKeyFile, LoadRefusesFilesReadableByOthers) {
    TempDir dir;
    const std::string path = dir / "k.key";
    ASSERT_TRUE(test::TestKey(1).Save(path));
    for (mode_t mode : {0644u, 0640u, 0604u, 0660u}) {
        ASSERT_EQ(::chmod(path.c_str(), mode), 0);
        auto k = SigningKey::Load(path);
        ASSERT_FALSE(k) << std::oct << mode;
        EXPECT_EQ(k.error().code, Errc::kUnauthorized);
        EXPECT_EQ(k.error().reason, "key-permissions");
    }
    ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
    EXPECT_TRUE(SigningKey::Load(path));
}

TEST(SigningKeyFile, LoadRejectsBadContent) {
    TempDir dir;
    struct Case {
        const char* name;
        std::string text;
        std::string reason;
    };
    const SigningKey key = test::TestKey(3);
    const std::vector<Case> cases = {
        {"missing", "", "key-missing"},
        {"not json", "not json", "malformed-json"},
        {"no private", R"({"type":"ed25519"})", "bad-field"},
        {"private not hex", R"({"private":"zz"})", "bad-key"},
        {"short private", R"({"private":"0303"})", "bad-key"},
        {"public mismatch",
         R"({"private":")" + std::string(64, '0') + R"(","public":")" + key.PublicHex() + "\"}",
         "bad-key"},
    };
    for (const auto& c : cases) {
        const std::string path = dir / (std::string(c.name) + ".key");
        if (!c.text.empty()) {
            ASSERT_TRUE(WriteFileAtomic(path, c.text, 0600));
        }
        auto k = SigningKey::Load(path);
        ASSERT_FALSE(k) << c.name;
        EXPECT_EQ(k.error().reason, c.reason) << c.name << ": " << k.error().ToString();
    }
}

}  // namespace
}  // namespace fwchain
