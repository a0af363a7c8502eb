// What a Bun single-file agent does with its environment, compiled at test
// time with `bun build --compile` (tests/bpf/tracing_test.cpp,
// Tracing.BunCompiledSampleReadsAreSeen): three named variables read through
// process.env and through Bun.env (the same object), then the whole
// environment enumerated and read. It prints which of the three were set and
// how many variables there are, never a value.
const baseUrl = process.env.ANTHROPIC_BASE_URL;
const proxy = Bun.env.HTTPS_PROXY;
const timeZone = process.env.TZ;
const names = Object.keys(process.env);
const copy = { ...process.env };
console.log(
  JSON.stringify({
    ANTHROPIC_BASE_URL: baseUrl !== undefined,
    HTTPS_PROXY: proxy !== undefined,
    TZ: timeZone !== undefined,
    names: names.length,
    copied: Object.keys(copy).length,
  }),
);
