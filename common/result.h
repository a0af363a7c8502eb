// The one way a function that may fail says so below start-up: it returns a
// Result<T> holding either the value or a Failure with one sentence. (C++23's
// std::expected is not in the C++20 library this project builds with; this is
// the subset of it the code needs.) Start-up and input errors are still thrown
// as agenttrace::Error and caught once in main(); hot paths never throw.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace agenttrace {

struct Failure {
  std::string message;
};

// Failure{"why"} reads poorly at call sites; fail("why") does not.
inline Failure fail(std::string message) { return Failure{std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Failure failure) : state_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Only when ok().
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Only when !ok().
  const std::string& error() const { return std::get<1>(state_).message; }
  Failure failure() const { return std::get<1>(state_); }

 private:
  std::variant<T, Failure> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Failure failure) : failed_(true), message_(std::move(failure.message)) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return message_; }
  Failure failure() const { return Failure{message_}; }

 private:
  bool failed_ = false;
  std::string message_;
};

}  // namespace agenttrace
