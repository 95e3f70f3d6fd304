import { ajv } from '../Ajv';
const UserCreateParamsPostSchema = {
    type: 'object',
    properties: {
        userId: { type: 'string' },
        activeStatus: { type: 'boolean' },
        confirmRelinquish: { type: 'boolean', nullable: true },
    },
    required: ['userId', 'activeStatus'],
    additionalProperties: false,
};
export const isUserSetActiveStatusParamsPOST = ajv.compile(UserCreateParamsPostSchema);
//# sourceMappingURL=UserSetActiveStatusParamsPOST.js.map