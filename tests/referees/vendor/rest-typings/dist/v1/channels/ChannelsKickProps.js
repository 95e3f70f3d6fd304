import { ajv } from '../Ajv';
const channelsKickPropsSchema = {
    oneOf: [
        {
            type: 'object',
            properties: {
                roomId: {
                    type: 'string',
                },
                userId: {
                    type: 'string',
                },
            },
            required: ['roomId', 'userId'],
            additionalProperties: false,
        },
        {
            type: 'object',
            properties: {
                roomName: {
                    type: 'string',
                },
                userId: {
                    type: 'string',
                },
            },
            required: ['roomName', 'userId'],
            additionalProperties: false,
        },
    ],
};
export const isChannelsKickProps = ajv.compile(channelsKickPropsSchema);
//# sourceMappingURL=ChannelsKickProps.js.map