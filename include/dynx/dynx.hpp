#pragma once
/// \file dynx.hpp
/// Everything in the public API.

#include <dynx/batch.hpp>
#include <dynx/buffer.hpp>
#include <dynx/config.hpp>
#include <dynx/context.hpp>
#include <dynx/deer.hpp>
#include <dynx/device.hpp>
#include <dynx/dsa.hpp>
#include <dynx/error.hpp>
#include <dynx/goom.hpp>
#include <dynx/io.hpp>
#include <dynx/export.hpp>
#include <dynx/linalg.hpp>
#include <dynx/log.hpp>
#include <dynx/lyapunov.hpp>
#include <dynx/status.hpp>
#include <dynx/types.hpp>
#include <dynx/version.hpp>
