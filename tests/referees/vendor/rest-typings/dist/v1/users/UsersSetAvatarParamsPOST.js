import { ajv } from '../Ajv';
const UserSetAvatarParamsPostSchema = {
    type: 'object',
    properties: {
        avatarUrl: {
            type: 'string',
            nullable: true,
        },
        userId: {
            type: 'string',
            nullable: true,
        },
        username: {
            type: 'string',
            nullable: true,
        },
    },
    required: [],
    additionalProperties: false,
};
export const isUserSetAvatarParamsPOST = ajv.compile(UserSetAvatarParamsPostSchema);
//# sourceMappingURL=UsersSetAvatarParamsPOST.js.map