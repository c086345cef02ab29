#include "common/core/names.hpp"

namespace fwchain {

bool ValidProductName(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) continue;
        // "." and ".." and hidden files are impossible: punctuation never comes first.
        if (i == 0 || (c != '.' && c != '_' && c != '-')) return false;
    }
    return true;
}

}  // namespace fwchain
