#include "common/core/expected.hpp"

namespace fwchain {

const char* ErrcName(Errc code) {
    switch (code) {
        case Errc::kInvalid:
            return "invalid";
        case Errc::kVerify:
            return "verify";
        case Errc::kNotFound:
            return "not-found";
        case Errc::kConflict:
            return "conflict";
        case Errc::kTooLarge:
            return "too-large";
        case Errc::kUnauthorized:
            return "unauthorized";
        case Errc::kIo:
            return "io";
        case Errc::kDatabase:
            return "database";
        case Errc::kNetwork:
            return "network";
        case Errc::kInternal:
            return "internal";
    }
    return "internal";
}

}  // namespace fwchain
