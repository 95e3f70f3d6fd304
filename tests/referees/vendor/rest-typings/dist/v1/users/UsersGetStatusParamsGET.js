import { ajvQuery } from '../Ajv';
const UsersGetStatusParamsGetSchema = {
    type: 'object',
    properties: {
        userId: { type: 'string' },
        username: { type: 'string' },
        user: { type: 'string' },
    },
    additionalProperties: false,
};
export const isUsersGetStatusParamsGET = ajvQuery.compile(UsersGetStatusParamsGetSchema);
//# sourceMappingURL=UsersGetStatusParamsGET.js.map