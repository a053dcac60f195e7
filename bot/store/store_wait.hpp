// Implementation of store::wait_for; included by store.hpp.
#pragma once

#include <future>

namespace bot::store {

template <typename T, typename Call>
core::result<T> wait_for(Call&& call) {
  auto promise = std::make_shared<std::promise<core::result<T>>>();
  auto future = promise->get_future();
  call([promise](core::result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

inline core::status wait_done(const std::function<void(done_callback)>& call) {
  auto promise = std::make_shared<std::promise<core::status>>();
  auto future = promise->get_future();
  call([promise](core::status s) { promise->set_value(std::move(s)); });
  return future.get();
}

}  // namespace bot::store
