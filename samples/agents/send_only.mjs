// Only sends: no host facts gathered on purpose, no configuration read.
import { request, send, PROMPT } from "./lib.mjs";

await send(request(PROMPT));
