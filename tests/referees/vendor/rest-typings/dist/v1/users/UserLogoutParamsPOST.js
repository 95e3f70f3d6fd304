import { ajv } from '../Ajv';
const UserLogoutParamsPostSchema = {
    type: 'object',
    properties: {
        userId: {
            type: 'string',
            nullable: true,
        },
    },
    required: [],
};
export const isUserLogoutParamsPOST = ajv.compile(UserLogoutParamsPostSchema);
//# sourceMappingURL=UserLogoutParamsPOST.js.map