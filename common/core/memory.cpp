#include "common/core/memory.hpp"

#include <malloc.h>

namespace fwchain {

void LimitMallocArenas() { mallopt(M_ARENA_MAX, 2); }

void ReleaseFreeMemory() { malloc_trim(0); }

}  // namespace fwchain
