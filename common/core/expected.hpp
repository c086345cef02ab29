#pragma once
// Expected<T> / Error: the error model of every fwchain module.
// Validation of untrusted input returns an Error with a short machine-readable `reason`
// ("bad-signature", "rollback", ...) and a human message, so callers can tell a peer sending
// garbage (Errc::kInvalid / kVerify) from a local failure (Errc::kIo / kDatabase).
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace fwchain {

enum class Errc {
    kInvalid,       // malformed or out-of-range input
    kVerify,        // signature, hash, threshold, expiry, rollback, match rules
    kNotFound,      // the thing asked for does not exist
    kConflict,      // already exists / duplicate
    kTooLarge,      // size limits
    kUnauthorized,  // missing or wrong credentials, unadmitted keys
    kIo,            // local filesystem
    kDatabase,      // SQLite
    kNetwork,       // HTTP transport, remote errors
    kInternal,
};

const char* ErrcName(Errc code);

struct [[nodiscard]] Error {
    Errc code = Errc::kInternal;
    std::string reason;   // short kebab-case code, stable for tests and logs
    std::string message;  // one sentence for a person

    std::string ToString() const { return reason + ": " + message; }
};

inline Error MakeError(Errc code, std::string reason, std::string message) {
    return Error{code, std::move(reason), std::move(message)};
}

// Wraps an error with context: "loading manifest: bad-signature: ...".
inline Error Context(Error e, const std::string& what) {
    e.message = what + ": " + e.message;
    return e;
}

struct Unexpected {
    Error error;
};
inline Unexpected Fail(Errc code, std::string reason, std::string message) {
    return Unexpected{Error{code, std::move(reason), std::move(message)}};
}
inline Unexpected Fail(Error e) { return Unexpected{std::move(e)}; }

template <typename T>
class [[nodiscard]] Expected {
  public:
    Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Expected(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}
    Expected(Error e) : v_(std::in_place_index<1>, std::move(e)) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & {
        assert(has_value());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(has_value());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const {
        assert(!has_value());
        return std::get<1>(v_);
    }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
  public:
    Expected() = default;
    Expected(Unexpected u) : err_(std::move(u.error)), ok_(false) {}
    Expected(Error e) : err_(std::move(e)), ok_(false) {}
    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const {
        assert(!ok_);
        return err_;
    }

  private:
    Error err_;
    bool ok_ = true;
};

using Status = Expected<void>;

}  // namespace fwchain

// Propagates the error of an Expected expression, like Rust's `?`.
#define FW_TRY(expr) FW_TRY_IMPL(FW_CONCAT(fw_try_, __COUNTER__), expr)
#define FW_TRY_IMPL(tmp, expr)                         \
    do {                                               \
        auto tmp = (expr);                             \
        if (!tmp) return ::fwchain::Fail(tmp.error()); \
    } while (0)

#define FW_CONCAT_INNER(a, b) a##b
#define FW_CONCAT(a, b) FW_CONCAT_INNER(a, b)
// FW_ASSIGN(auto x, Foo()); declares x from the value or returns the error.
#define FW_ASSIGN(decl, expr) FW_ASSIGN_IMPL(FW_CONCAT(fw_assign_, __COUNTER__), decl, expr)
#define FW_ASSIGN_IMPL(tmp, decl, expr)            \
    auto tmp = (expr);                             \
    if (!tmp) return ::fwchain::Fail(tmp.error()); \
    decl = std::move(tmp).value()
