import Ajv from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
const ajv = new Ajv({
    coerceTypes: true,
    allowUnionTypes: true,
    code: { source: true },
    discriminator: true,
});
/** AJV instance for query param validation; coerces types (e.g. string "50" → number, "c" → ["c"]) for URL query strings. */
const ajvQuery = new Ajv({
    coerceTypes: 'array',
    allowUnionTypes: true,
    code: { source: true },
    discriminator: true,
});
// TODO: keep ajv extension here
addFormats(ajv);
addFormats(ajvQuery);
ajv.addFormat('basic_email', /^[^@]+@[^@]+$/);
ajv.addFormat('rfc_email', /^[a-zA-Z0-9.!#$%&'*+\/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/);
ajvQuery.addFormat('basic_email', /^[^@]+@[^@]+$/);
ajvQuery.addFormat('rfc_email', /^[a-zA-Z0-9.!#$%&'*+\/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/);
ajv.addKeyword({
    keyword: 'isNotEmpty',
    type: 'string',
    validate: (_schema, data) => typeof data === 'string' && !!data.trim(),
});
ajvQuery.addKeyword({
    keyword: 'isNotEmpty',
    type: 'string',
    validate: (_schema, data) => typeof data === 'string' && !!data.trim(),
});
export { ajv, ajvQuery };
const BadRequestErrorResponseSchema = {
    type: 'object',
    properties: {
        success: { type: 'boolean', enum: [false] },
        stack: { type: 'string' },
        error: { type: 'string' },
        errorType: { type: 'string' },
        details: { anyOf: [{ type: 'string' }, { type: 'object' }, { type: 'array' }] },
    },
    required: ['success'],
    additionalProperties: false,
};
export const validateBadRequestErrorResponse = ajv.compile(BadRequestErrorResponseSchema);
const UnauthorizedErrorResponseSchema = {
    type: 'object',
    properties: {
        success: { type: 'boolean', enum: [false] },
        status: { type: 'string' },
        message: { type: 'string' },
        error: { type: 'string' },
        errorType: { type: 'string' },
    },
    required: ['success'],
    additionalProperties: false,
};
export const validateUnauthorizedErrorResponse = ajv.compile(UnauthorizedErrorResponseSchema);
const ForbiddenErrorResponseSchema = {
    type: 'object',
    properties: {
        success: { type: 'boolean', enum: [false] },
        status: { type: 'string' },
        message: { type: 'string' },
        error: { type: 'string' },
        errorType: { type: 'string' },
    },
    required: ['success'],
    additionalProperties: false,
};
export const validateForbiddenErrorResponse = ajv.compile(ForbiddenErrorResponseSchema);
const NotFoundErrorResponseSchema = {
    type: 'object',
    properties: {
        success: { type: 'boolean', enum: [false] },
        error: { type: 'string' },
    },
    required: ['success', 'error'],
};
export const validateNotFoundErrorResponse = ajv.compile(NotFoundErrorResponseSchema);
const InternalErrorResponseSchema = {
    type: 'object',
    properties: {
        success: { type: 'boolean', enum: [false] },
        error: { type: 'string' },
    },
    required: ['success', 'error'],
    additionalProperties: false,
};
export const validateInternalErrorResponse = ajv.compile(InternalErrorResponseSchema);
//# sourceMappingURL=Ajv.js.map