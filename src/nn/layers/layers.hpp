#pragma once
// Every layer class, for code that builds models.
#include "nn/layers/activation_layer.hpp"
#include "nn/layers/conv.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/layers/reshape.hpp"
#include "nn/layers/merge.hpp"
