// Canonical JSON (DESIGN.md §4): what gets signed must have exactly one byte form, and the
// parser of untrusted bytes must refuse everything outside that form.
#include "common/core/json.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/fs.hpp"
#include "tests/support/reference_json.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain {
namespace {

std::string Nested(const std::string& open, const std::string& close, int depth,
                   const std::string& inner = "1") {
    std::string s;
    for (int i = 0; i < depth; ++i) s += open;
    s += inner;
    for (int i = 0; i < depth; ++i) s += close;
    return s;
}

TEST(Json, CanonicalIsSortedWithoutWhitespace) {
    struct Case {
        std::string input;
        std::string canonical;
    };
    const std::vector<Case> cases = {
        {R"({ "b" : 1, "a" : [ 3, 2, 1 ], "c": {"z": null, "y": true} })",
         R"({"a":[3,2,1],"b":1,"c":{"y":true,"z":null}})"},
        {"\n\t[ ]\r\n", "[]"},
        {R"({"B":1,"a":2,"_":3})", R"({"B":1,"_":3,"a":2})"},  // byte order, not locale
        {R"("h\u00e9")", "\"h\xc3\xa9\""},                     // UTF-8, not \u escapes
        {R"({"k":-5})", R"({"k":-5})"},
    };
    for (const auto& c : cases) {
        auto j = ParseJson(c.input);
        ASSERT_TRUE(j) << c.input << ": " << j.error().ToString();
        EXPECT_EQ(Canonical(*j), c.canonical);
        // Canonical form is a fixed point.
        auto again = ParseJson(Canonical(*j));
        ASSERT_TRUE(again);
        EXPECT_EQ(Canonical(*again), c.canonical);
    }
    // Insertion order in code does not matter either.
    Json a;
    a["z"] = 1;
    a["a"] = 2;
    Json b;
    b["a"] = 2;
    b["z"] = 1;
    EXPECT_EQ(Canonical(a), Canonical(b));
    EXPECT_EQ(Canonical(a), R"({"a":2,"z":1})");
}

TEST(Json, AcceptsIntegerRange) {
    auto j = ParseJson(R"({"max":18446744073709551615,"min":-9223372036854775808})");
    ASSERT_TRUE(j) << j.error().ToString();
    auto max = GetUint(*j, "max");
    ASSERT_TRUE(max);
    EXPECT_EQ(*max, UINT64_MAX);
    auto min = GetInt(*j, "min");
    ASSERT_TRUE(min);
    EXPECT_EQ(*min, INT64_MIN);
    EXPECT_EQ(Canonical(*j), R"({"max":18446744073709551615,"min":-9223372036854775808})");
}

TEST(Json, RejectsFloatsAnywhere) {
    const std::vector<std::string> floats = {
        "1.5",
        "1e3",
        "1E3",
        "-0.0",
        "[1, 2.0]",
        R"({"a":1.0})",
        R"({"a":{"b":[0, {"c":1e-2}]}})",
        "18446744073709551616",  // above uint64: nlohmann would make it a double
        "[-9223372036854775809]",
    };
    for (const auto& s : floats) {
        auto j = ParseJson(s);
        ASSERT_FALSE(j) << s;
        EXPECT_EQ(j.error().code, Errc::kInvalid) << s;
        EXPECT_EQ(j.error().reason, "malformed-json") << s;
    }
}

TEST(Json, RejectsDuplicateKeys) {
    const std::vector<std::string> dups = {
        R"({"a":1,"a":1})",           R"({"a":1,"b":2,"a":3})", R"({"x":{"a":1,"a":2}})",
        R"([{"k":1},{"k":2,"k":3}])", R"({"a":{"a":1},"a":2})",
    };
    for (const auto& s : dups) {
        auto j = ParseJson(s);
        ASSERT_FALSE(j) << s;
        EXPECT_EQ(j.error().reason, "malformed-json") << s;
        EXPECT_NE(j.error().message.find("duplicate"), std::string::npos) << j.error().message;
    }
    // The same key at different levels or in sibling objects is fine.
    EXPECT_TRUE(ParseJson(R"({"a":{"a":1},"b":{"a":2}})"));
    EXPECT_TRUE(ParseJson(R"([{"k":1},{"k":2}])"));
}

TEST(Json, NestingLimitIs32) {
    EXPECT_TRUE(ParseJson(Nested("[", "]", 32)));
    EXPECT_TRUE(ParseJson(Nested("{\"a\":", "}", 32)));
    EXPECT_TRUE(ParseJson(Nested("[", "]", 31, "{\"a\":1}")));
    const std::vector<std::string> deep = {
        Nested("[", "]", 33), Nested("{\"a\":", "}", 33), Nested("[", "]", 32, "{}"),
        Nested("[", "]", 100000),  // must not exhaust the stack
    };
    for (const auto& s : deep) {
        auto j = ParseJson(s);
        ASSERT_FALSE(j) << s.substr(0, 40);
        EXPECT_EQ(j.error().reason, "malformed-json");
    }
}

TEST(Json, RejectsOversize) {
    const std::string doc = R"({"k":")" + std::string(100, 'x') + "\"}";
    EXPECT_TRUE(ParseJson(doc, doc.size()));
    auto j = ParseJson(doc, doc.size() - 1);
    ASSERT_FALSE(j);
    EXPECT_EQ(j.error().code, Errc::kTooLarge);
    EXPECT_EQ(j.error().reason, "too-large");
    // Default limit is 4 MiB.
    const std::string big = "\"" + std::string(4 << 20, 'a') + "\"";
    auto b = ParseJson(big);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().reason, "too-large");
}

// Documents every parser must refuse as malformed (not as too large, float or duplicate).
const std::vector<std::string>& MalformedDocs() {
    static const std::vector<std::string> docs = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        R"({"a":1,})",
        R"({a:1})",
        "{'a':1}",
        "nul",
        "01",
        "+1",
        "NaN",
        "[1] [2]",
        "[1] x",
        R"("unterminated)",
        "\"\xff\"",      // invalid UTF-8
        "\"\xc3\x28\"",  // invalid UTF-8 continuation
        "\"a\x01\"",     // unescaped control character
        "/* c */ 1",
    };
    return docs;
}

TEST(Json, RejectsMalformed) {
    const std::vector<std::string>& bad = MalformedDocs();
    for (const auto& s : bad) {
        auto j = ParseJson(s);
        ASSERT_FALSE(j) << "accepted: " << s;
        EXPECT_EQ(j.error().code, Errc::kInvalid) << s;
        EXPECT_EQ(j.error().reason, "malformed-json") << s;
    }
}

TEST(Json, TypedAccessors) {
    auto j = ParseJson(R"({"s":"x","i":-3,"u":7,"big":18446744073709551615,"o":{},"a":[]})");
    ASSERT_TRUE(j);
    EXPECT_EQ(*GetString(*j, "s"), "x");
    EXPECT_EQ(*GetInt(*j, "i"), -3);
    EXPECT_EQ(*GetInt(*j, "u"), 7);
    EXPECT_EQ(*GetUint(*j, "u"), 7u);
    EXPECT_TRUE(GetObject(*j, "o"));
    EXPECT_TRUE(GetArray(*j, "a"));

    struct Bad {
        bool ok;
        const char* what;
    };
    const std::vector<Bad> bad = {
        {static_cast<bool>(GetString(*j, "i")), "string from int"},
        {static_cast<bool>(GetString(*j, "missing")), "missing string"},
        {static_cast<bool>(GetUint(*j, "i")), "negative as uint"},
        {static_cast<bool>(GetInt(*j, "big")), "uint64 above int64 as int"},
        {static_cast<bool>(GetInt(*j, "s")), "int from string"},
        {static_cast<bool>(GetObject(*j, "a")), "object from array"},
        {static_cast<bool>(GetArray(*j, "o")), "array from object"},
        {static_cast<bool>(GetString(Json::array(), "s")), "field of an array"},
        {static_cast<bool>(GetUint(Json(5), "s")), "field of a number"},
    };
    for (const auto& b : bad) EXPECT_FALSE(b.ok) << b.what;
    auto e = GetString(*j, "missing");
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().reason, "bad-field");
    EXPECT_NE(e.error().message.find("missing"), std::string::npos);
}

TEST(Json, LoadJsonFile) {
    test::TempDir dir;
    ASSERT_TRUE(WriteFileAtomic(dir / "a.json", R"({"b":1, "a":2})"));
    auto j = LoadJsonFile(dir / "a.json");
    ASSERT_TRUE(j) << j.error().ToString();
    EXPECT_EQ(Canonical(*j), R"({"a":2,"b":1})");

    auto small = LoadJsonFile(dir / "a.json", 4);
    ASSERT_FALSE(small);
    EXPECT_EQ(small.error().reason, "too-large");

    ASSERT_TRUE(WriteFileAtomic(dir / "f.json", R"({"a":0.5})"));
    auto f = LoadJsonFile(dir / "f.json");
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().reason, "malformed-json");

    auto missing = LoadJsonFile(dir / "none.json");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, Errc::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// ParseJson builds the document with its own SAX handler and AppendCanonical writes canonical
// text without nlohmann's serializer. Both must give exactly what the previous implementations
// gave (below, kept as the reference): the same documents accepted, the same trees, the same
// bytes.

using test::ReferenceParseJson;

// Same verdict; for an accepted document the same tree (compared including value types: an
// unsigned 5 and a signed 5 compare equal in nlohmann but serialise the same too) and the same
// canonical bytes; for a refused one the same code and reason.
void ExpectSameAsReference(const std::string& text) {
    auto got = ParseJson(text);
    auto want = ReferenceParseJson(text);
    ASSERT_EQ(static_cast<bool>(got), static_cast<bool>(want))
        << text.substr(0, 80) << ": " << (got ? want.error().ToString() : got.error().ToString());
    if (want) {
        EXPECT_EQ(*got, *want) << text.substr(0, 80);
        EXPECT_EQ(Canonical(*got), Canonical(*want)) << text.substr(0, 80);
        EXPECT_EQ(got->type(), want->type());
    } else {
        EXPECT_EQ(got.error().code, want.error().code) << text.substr(0, 80);
        EXPECT_EQ(got.error().reason, want.error().reason) << text.substr(0, 80);
    }
}

TEST(Json, ParserAgreesWithTheCallbackParser) {
    const std::vector<std::string> docs = {
        // accepted
        R"({"b":1,"a":[3,2,1],"c":{"z":null,"y":true}})",
        " \n\t{ \"b\" : 1 , \"a\" : [ ] }\r\n",
        R"({"B":1,"a":2,"_":3})",
        R"("h\u00e9")",
        R"("\u0041\/\"\\\b\f\n\r\t")",
        R"("\ud83d\udd12 \u0000")",
        R"({"max":18446744073709551615,"min":-9223372036854775808,"z":-0,"o":0})",
        R"([true,false,null,"",{},[],[[]],{"":{"":""}}])",
        R"({"a":{"a":1},"b":{"a":2}})",
        R"([{"k":1},{"k":2}])",
        "\"\xc3\xa9\xe2\x9c\x93\xf0\x9f\x94\x92\"",
        "\"\x7f\"",
        Nested("[", "]", 32),
        Nested("{\"a\":", "}", 32),
        Nested("[", "]", 31, "{\"a\":1}"),
        "123",
        "\"\"",
        // refused (and MalformedDocs below)
        "1.5",
        "1e3",
        "1E3",
        "-0.0",
        "[1, 2.0]",
        R"({"a":{"b":[0, {"c":1e-2}]}})",
        "18446744073709551616",
        "[-9223372036854775809]",
        R"({"a":1,"a":1})",
        R"({"a":1,"b":2,"a":3})",
        R"({"x":{"a":1,"a":2}})",
        R"([{"k":1},{"k":2,"k":3}])",
        R"({"a":{"a":1},"a":2})",
        R"({"a":1.5,"a":2})",
        R"({"a":1,"a":2.5})",
        R"({"a":[1.5,{"b":1,"b":2}]})",
        Nested("[", "]", 33),
        Nested("{\"a\":", "}", 33),
        Nested("[", "]", 32, "{}"),
        Nested("[", "]", 33, "1.5"),
        Nested("[", "]", 100000),
        R"("\ud800")",
        R"("\x")",
        R"("\u00g0")",
        "[1 2]",
        R"({"a" 1})",
        R"({"a":})",
        "tru",
        "[\"a\",]",
        "{\"a\":1}}",
        "\xef\xbb\xbf{}",
    };
    for (const auto& d : docs) ExpectSameAsReference(d);
    for (const auto& d : MalformedDocs()) ExpectSameAsReference(d);
    // Every prefix of a realistic document (most are truncated, hence refused).
    const std::string block =
        R"({"hash":"00ab","txs":[{"body":{"gateway":"gw1","sequence":1},"nonce":3,)"
        R"("sig":"ff","time":-1,"x":[1,{"y":"\u00e9\n"}]}],"message":"m"})";
    for (std::size_t n = 0; n <= block.size(); ++n) ExpectSameAsReference(block.substr(0, n));
}

// A fixed-seed generator of JSON texts: valid documents with awkward strings and numbers, then
// each mutated (a byte changed, a key duplicated, a float inserted).
class Gen {
  public:
    explicit Gen(std::uint64_t seed) : s_(seed) {}
    std::uint64_t Next() {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        return s_;
    }
    std::size_t Below(std::size_t n) { return static_cast<std::size_t>(Next() % n); }

    std::string String() {
        static const std::vector<std::string> parts = {"a",
                                                       "Z",
                                                       "_",
                                                       " ",
                                                       "\\\"",
                                                       "\\\\",
                                                       "\\n",
                                                       "\\t",
                                                       "\\u0001",
                                                       "\\u001f",
                                                       "\\u007f",
                                                       "\\u00e9",
                                                       "\\ud83d\\udd12",
                                                       "\xc3\xa9",
                                                       "\xe2\x9c\x93",
                                                       "\x7f",
                                                       "\\/",
                                                       "0",
                                                       "ff",
                                                       "\\b",
                                                       "\\f",
                                                       "\\r"};
        std::string out = "\"";
        const std::size_t n = Below(6);
        for (std::size_t i = 0; i < n; ++i) out += parts[Below(parts.size())];
        return out + "\"";
    }
    std::string Number() {
        static const std::vector<std::string> nums = {"0",
                                                      "-0",
                                                      "1",
                                                      "-1",
                                                      "42",
                                                      "9223372036854775807",
                                                      "9223372036854775808",
                                                      "-9223372036854775808",
                                                      "18446744073709551615",
                                                      "1.0",
                                                      "1e2",
                                                      "-9223372036854775809",
                                                      "18446744073709551616",
                                                      "123456789012345678901234567890"};
        return nums[Below(nums.size())];
    }
    std::string Value(int depth) {
        switch (depth > 3 ? Below(4) : Below(7)) {
            case 0:
                return String();
            case 1:
                return Number();
            case 2:
                return Below(2) ? "true" : "null";
            case 3:
                return "false";
            case 4: {
                std::string out = "[";
                const std::size_t n = Below(4);
                for (std::size_t i = 0; i < n; ++i) out += (i ? "," : "") + Value(depth + 1);
                return out + "]";
            }
            default: {
                std::string out = "{";
                const std::size_t n = Below(5);
                for (std::size_t i = 0; i < n; ++i) {
                    out += (i ? ", " : "") + String() + (Below(3) ? ":" : " : ") + Value(depth + 1);
                }
                return out + "}";
            }
        }
    }

  private:
    std::uint64_t s_;
};

TEST(Json, ParserAgreesWithTheCallbackParserOnGeneratedDocuments) {
    Gen g(0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < 3000; ++i) {
        std::string doc = g.Value(0);
        ExpectSameAsReference(doc);
        if (!doc.empty()) {
            std::string mutated = doc;
            mutated[g.Below(mutated.size())] = "{}[]\":,\\x1.e-\x01\xff"[g.Below(18)];
            ExpectSameAsReference(mutated);
        }
    }
}

// AppendCanonical and AppendCanonicalString against the serializer (Canonical) on every kind of
// value a document can hold, including what the parser never produces (floats, binary, invalid
// UTF-8 from code) where AppendCanonical must defer to the serializer.
TEST(Json, AppendCanonicalEqualsCanonical) {
    std::vector<Json> values = {
        Json(),
        Json(true),
        Json(false),
        Json(0),
        Json(-1),
        Json(INT64_MIN),
        Json(INT64_MAX),
        Json(UINT64_MAX),
        Json(std::uint64_t{0}),
        Json(1.5),
        Json(-0.0),
        Json(1e300),
        Json::binary({1, 2, 3}),
        Json::object(),
        Json::array(),
        Json("\xff\xfe invalid UTF-8"),
        Json("\xc3\xa9t\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x94\x92"),
        Json{{"z", Json::array({1, -2, "x", 2.5})}, {"a", Json::object()}, {"\xc3\xa9", "\n"}},
        Json{{"key\x01\"\\", {{"nested", Json::array({Json::object(), Json::array()})}}}},
    };
    std::string every_ascii;
    for (int c = 0; c < 128; ++c) every_ascii += static_cast<char>(c);
    values.emplace_back(every_ascii);
    values.push_back(Json{{every_ascii, every_ascii}});
    Gen g(12345);
    for (int i = 0; i < 3000; ++i) {
        auto j = ReferenceParseJson(g.Value(0));
        if (j) values.push_back(*j);
    }
    for (const Json& v : values) {
        std::string out = "prefix";
        AppendCanonical(out, v);
        EXPECT_EQ(out, "prefix" + Canonical(v));
        if (v.is_string()) {
            std::string s;
            AppendCanonicalString(s, v.get_ref<const std::string&>());
            EXPECT_EQ(s, Canonical(v));
        }
    }
}

}  // namespace
}  // namespace fwchain
