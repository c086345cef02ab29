#include "common/core/json.hpp"

#include <charconv>
#include <vector>

#include "common/core/fs.hpp"

namespace fwchain {

namespace {

constexpr std::size_t kMaxDepth = 32;

// Builds the document as nlohmann's DOM parser does, refusing what canonical JSON forbids as it
// goes: floats, nesting deeper than kMaxDepth, duplicate keys. The duplicate check is the
// object's own insertion (no set of keys per level), and the first problem stops the parse.
class StrictDomBuilder {
  public:
    explicit StrictDomBuilder(Json& root) : root_(root) { stack_.reserve(kMaxDepth); }

    const std::string& problem() const { return problem_; }

    bool null() { return Add(nullptr) != nullptr; }
    bool boolean(bool v) { return Add(v) != nullptr; }
    bool number_integer(Json::number_integer_t v) { return Add(v) != nullptr; }
    bool number_unsigned(Json::number_unsigned_t v) { return Add(v) != nullptr; }
    bool number_float(Json::number_float_t /*v*/, const std::string& /*text*/) {
        return Fail("floating-point numbers are not allowed");
    }
    // A copy, not a move: the lexer's buffer keeps its capacity for the next string.
    bool string(std::string& v) { return Add(v) != nullptr; }
    bool binary(Json::binary_t& /*v*/) { return Fail("binary values are not JSON"); }
    bool start_object(std::size_t /*len*/) { return Open(Json::value_t::object); }
    bool start_array(std::size_t /*len*/) { return Open(Json::value_t::array); }
    bool key(std::string& k) {
        auto [it, inserted] = stack_.back()->get_ref<Json::object_t&>().emplace(k, nullptr);
        if (!inserted) return Fail("duplicate key \"" + k + "\"");
        element_ = &it->second;
        return true;
    }
    bool end_object() {
        stack_.pop_back();
        return true;
    }
    bool end_array() {
        stack_.pop_back();
        return true;
    }
    bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& e) {
        if (problem_.empty()) problem_ = e.what();
        return false;
    }

  private:
    bool Fail(std::string why) {
        if (problem_.empty()) problem_ = std::move(why);
        return false;
    }

    bool Open(Json::value_t type) {
        // The depth of a container is the number of containers around it (the document: 0).
        if (stack_.size() >= kMaxDepth) return Fail("nesting deeper than 32");
        Json* v = Add(type);
        stack_.push_back(v);
        return true;
    }

    template <typename V>
    Json* Add(V&& v) {
        if (stack_.empty()) {
            root_ = Json(std::forward<V>(v));
            return &root_;
        }
        Json* parent = stack_.back();
        if (parent->is_array()) {
            auto& arr = parent->get_ref<Json::array_t&>();
            arr.emplace_back(std::forward<V>(v));
            return &arr.back();
        }
        *element_ = Json(std::forward<V>(v));
        return element_;
    }

    Json& root_;
    std::vector<Json*> stack_;
    Json* element_ = nullptr;
    std::string problem_;
};

}  // namespace

Expected<Json> ParseJson(std::string_view text, std::size_t max_size) {
    if (text.size() > max_size) {
        return Fail(Errc::kTooLarge, "too-large",
                    "JSON document of " + std::to_string(text.size()) +
                        " bytes exceeds the limit of " + std::to_string(max_size));
    }
    Json j;
    StrictDomBuilder builder(j);
    try {
        const bool ok = Json::sax_parse(text.begin(), text.end(), &builder,
                                        Json::input_format_t::json, /*strict=*/true);
        if (!ok || !builder.problem().empty()) {
            return Fail(Errc::kInvalid, "malformed-json",
                        builder.problem().empty() ? "document rejected" : builder.problem());
        }
        return j;
    } catch (const Json::exception& e) {
        if (!builder.problem().empty()) {
            return Fail(Errc::kInvalid, "malformed-json", builder.problem());
        }
        return Fail(Errc::kInvalid, "malformed-json", e.what());
    }
}

std::string Canonical(const Json& j) {
    // Invalid UTF-8 is replaced rather than thrown: signed strings come from our own parser,
    // which already rejected invalid UTF-8, so this only guards internal misuse.
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void AppendCanonicalString(std::string& out, std::string_view s) {
    for (char ch : s) {
        if (static_cast<unsigned char>(ch) >= 0x80) {
            // UTF-8 (and its error handling) exactly as the serializer does it.
            out += Canonical(Json(std::string(s)));
            return;
        }
    }
    // ASCII, escaped as nlohmann's serializer does with ensure_ascii off: short escapes for
    // \b \t \n \f \r, \u00xx (lowercase) for other control bytes, DEL kept.
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 0xF];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

void AppendCanonical(std::string& out, const Json& j) {
    switch (j.type()) {
        case Json::value_t::object: {
            out += '{';
            bool first = true;
            // std::map order: byte-wise, as the serializer writes it.
            for (const auto& [key, value] : j.get_ref<const Json::object_t&>()) {
                if (!first) out += ',';
                first = false;
                AppendCanonicalString(out, key);
                out += ':';
                AppendCanonical(out, value);
            }
            out += '}';
            return;
        }
        case Json::value_t::array: {
            out += '[';
            bool first = true;
            for (const auto& value : j.get_ref<const Json::array_t&>()) {
                if (!first) out += ',';
                first = false;
                AppendCanonical(out, value);
            }
            out += ']';
            return;
        }
        case Json::value_t::string:
            AppendCanonicalString(out, j.get_ref<const std::string&>());
            return;
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned: {
            char buf[24];
            const auto r = j.is_number_unsigned()
                               ? std::to_chars(buf, buf + sizeof(buf), j.get<std::uint64_t>())
                               : std::to_chars(buf, buf + sizeof(buf), j.get<std::int64_t>());
            out.append(buf, r.ptr);
            return;
        }
        case Json::value_t::boolean:
            out += j.get<bool>() ? "true" : "false";
            return;
        case Json::value_t::null:
            out += "null";
            return;
        default:  // floats, binary, discarded: the serializer's own forms
            out += Canonical(j);
            return;
    }
}

namespace {
Error Missing(const char* key, const char* what) {
    return MakeError(Errc::kInvalid, "bad-field",
                     std::string("field \"") + key + "\" is missing or not " + what);
}
}  // namespace

Expected<std::string> GetString(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "a string (not an object)"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return Fail(Missing(key, "a string"));
    return it->get<std::string>();
}

Expected<std::int64_t> GetInt(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an integer"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return Fail(Missing(key, "an integer"));
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX) {
        return Fail(Missing(key, "an integer in range"));
    }
    return it->get<std::int64_t>();
}

Expected<std::uint64_t> GetUint(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an unsigned integer"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return Fail(Missing(key, "an unsigned integer"));
    if (!it->is_number_unsigned() && it->get<std::int64_t>() < 0) {
        return Fail(Missing(key, "an unsigned integer"));
    }
    return it->get<std::uint64_t>();
}

Expected<const Json*> GetObject(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an object"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return Fail(Missing(key, "an object"));
    return &*it;
}

Expected<const Json*> GetArray(const Json& j, const char* key) {
    if (!j.is_object()) return Fail(Missing(key, "an array"));
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return Fail(Missing(key, "an array"));
    return &*it;
}

Expected<Json> LoadJsonFile(const std::string& path, std::size_t max_size) {
    FW_ASSIGN(std::string text, ReadFile(path, max_size));
    auto j = ParseJson(text, max_size);
    if (!j) return Fail(Context(j.error(), path));
    return j;
}

}  // namespace fwchain
