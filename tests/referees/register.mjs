// Loads the vendored @rocket.chat/rest-typings dist/ as published: ES modules whose relative
// imports have no extension (`'../Ajv'`, `'ajv/dist/2020'`), which Node's ESM resolver refuses.
// The hook retries such a specifier with `.js` appended. Use: node --import ./register.mjs ...
import { register } from 'node:module';

register('./resolve-hook.mjs', import.meta.url);
