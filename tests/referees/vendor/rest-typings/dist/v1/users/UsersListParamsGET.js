import { ajvQuery } from '../Ajv';
const UsersListParamsGetSchema = {
    type: 'object',
    properties: {
        fields: { type: 'string', nullable: true },
        query: { type: 'string', nullable: true },
        count: { type: 'number', nullable: true },
        offset: { type: 'number', nullable: true },
        sort: { type: 'string', nullable: true },
        email: { type: 'string', minLength: 1, nullable: true },
    },
    additionalProperties: false,
};
export const isUsersListParamsGET = ajvQuery.compile(UsersListParamsGetSchema);
//# sourceMappingURL=UsersListParamsGET.js.map